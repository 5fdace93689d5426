"""Every method of the field is registered, listed with its description and parameter defaults,
and an unknown parameter is an error naming the accepted ones."""

from __future__ import annotations

import pytest

from obliviate.cli import main
from obliviate.errors import ObliviateError
from obliviate.methods import METHODS, get_method_class

FIELD = ["ga", "gd", "ga_kl", "random_label", "adversarial", "npo", "npo_gd", "npo_kl", "simnpo",
         "dpo", "altpo", "rt", "icu", "undial", "wga", "satimp", "ce_u", "pdu", "rmu"]  # fmt: skip


def test_list_methods_shows_every_method_with_defaults(capsys):
    assert main(["list", "methods"]) == 0
    out = capsys.readouterr().out
    for name in FIELD:
        cls = METHODS[name]
        line = next(ln for ln in out.splitlines() if ln.startswith(f"{name} "))
        assert cls.description and cls.description in line
        for key, value in cls.param_defaults().items():
            assert f"{key}={value!r}" in out


@pytest.mark.parametrize("name", FIELD)
def test_unknown_parameter_names_the_accepted_ones(name):
    cls = get_method_class(name)
    with pytest.raises(ObliviateError, match=f"not a parameter of method '{name}'") as err:
        cls({"no_such_param": 1})
    for key in cls.param_defaults():
        assert key in str(err.value)
