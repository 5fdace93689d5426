"""Every registered method is listed with its description and parameter defaults, has a config
in configs/methods/ that loads and validates, and rejects an unknown parameter naming the
accepted ones. The tests iterate the registry: a new method is covered without editing them."""

from __future__ import annotations

from pathlib import Path

import pytest

from obliviate.cli import main
from obliviate.config import load_config
from obliviate.errors import ObliviateError
from obliviate.methods import METHODS, get_method_class

CONFIGS = Path(__file__).resolve().parents[2] / "configs" / "methods"
NAMES = sorted(METHODS)


def test_list_methods_shows_every_method_with_defaults(capsys):
    assert main(["list", "methods"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 * len(METHODS)  # a description line and a params line each
    for name in NAMES:
        cls = METHODS[name]
        i = next(i for i, ln in enumerate(lines) if ln.split()[0] == name)
        assert cls.description and lines[i].endswith(cls.description)
        params = ", ".join(f"{k}={v!r}" for k, v in cls.param_defaults().items()) or "-"
        assert lines[i + 1].strip() == f"params: {params}"


@pytest.mark.parametrize("name", NAMES)
def test_every_method_has_a_config_that_loads(name):
    path = CONFIGS / f"{name}.yaml"
    assert path.is_file(), f"configs/methods/{name}.yaml is missing"
    cfg = load_config(path)  # validates names and parameters
    assert cfg.unlearn.method == name
    cls = get_method_class(name)
    assert set(cfg.unlearn.params) <= set(cls.param_defaults())
    method = cls(dict(cfg.unlearn.params))
    for key, value in cfg.unlearn.params.items():
        assert getattr(method.p, key) == value, key


def test_every_config_names_a_registered_method():
    """No stale config: a method that leaves the registry takes its config with it."""
    stems = sorted(p.stem for p in CONFIGS.glob("*.yaml"))
    assert stems == NAMES


@pytest.mark.parametrize("name", NAMES)
def test_unknown_parameter_names_the_accepted_ones(name):
    cls = get_method_class(name)
    with pytest.raises(ObliviateError, match=f"not a parameter of method '{name}'") as err:
        cls({"no_such_param": 1})
    accepted = ", ".join(sorted(cls.param_defaults())) or "none"
    assert str(err.value).endswith(f"; accepted: {accepted}")


def test_a_variant_is_its_base_with_other_defaults():
    from obliviate.methods.npo import NPO

    variant = METHODS["npo_kl"]
    assert issubclass(variant, NPO) and variant.forget_loss is NPO.forget_loss
    assert variant.param_defaults() == {**NPO.param_defaults(), "retain_loss": "kl"}
    assert variant().needs_reference_model() and not NPO().needs_reference_model()  # KL term


def test_a_variant_of_an_unknown_parameter_is_refused():
    from obliviate.methods.base import register_variant
    from obliviate.methods.npo import NPO

    with pytest.raises(RuntimeError, match=r"\['betta'\] are not parameters of 'npo'"):
        register_variant(NPO, "npo_typo", "never registered", betta=0.2)
    assert "npo_typo" not in METHODS
