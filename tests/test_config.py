from __future__ import annotations

import pytest

from obliviate.config import load_config, parse_overrides, to_yaml
from obliviate.errors import ObliviateError


def test_defaults_are_the_quickstart():
    cfg = load_config()
    assert cfg.benchmark.name == "synthkb"
    assert cfg.model.name_or_path == "tiny"
    assert cfg.unlearn.method == "npo"


def test_quickstart_yaml_equals_defaults():
    from obliviate.methods import get_method_class

    from_file, default = load_config("configs/quickstart.yaml"), load_config()
    # the file spells out NPO's parameters; the defaults leave them to the method
    assert from_file.unlearn.params == get_method_class("npo").param_defaults()
    from_file.unlearn.params = {}
    assert to_yaml(from_file) == to_yaml(default)


def test_overrides_are_typed():
    cfg = load_config(None, ["unlearn.epochs=2", "unlearn.params.beta=0.2", "run.name=x"])
    assert cfg.unlearn.epochs == 2.0 and isinstance(cfg.unlearn.epochs, float)
    assert cfg.unlearn.params == {"beta": 0.2}
    assert cfg.run.name == "x"
    assert parse_overrides(["a.b=[1, 2]", "c=yes"]) == {"a": {"b": [1, 2]}, "c": True}


def test_unknown_key_names_key_and_accepted():
    with pytest.raises(ObliviateError) as err:
        load_config(None, ["unlearn.epocs=2"])
    msg = str(err.value)
    head, accepted = msg.split("; accepted: ")
    assert head == "command line: unknown config key 'unlearn.epocs'"
    accepted, hint = accepted.split(" (did you mean ")
    assert hint == "'unlearn.epochs'?)"
    keys = accepted.split(", ")
    assert keys == sorted(keys) and all(k.startswith("unlearn.") for k in keys)
    assert {"unlearn.epochs", "unlearn.lr", "unlearn.method", "unlearn.params"} <= set(keys)


def test_unknown_section():
    with pytest.raises(ObliviateError, match="unknown config key 'trainer'"):
        load_config(None, ["trainer.lr=1"])


def test_wrong_type():
    with pytest.raises(ObliviateError) as err:
        load_config(None, ["unlearn.epochs=many"])
    assert str(err.value).startswith(
        "command line: wrong type for config key 'unlearn.epochs': Value 'many'"
    )


def test_unknown_method_lists_accepted():
    with pytest.raises(ObliviateError) as err:
        load_config(None, ["unlearn.method=npoo"])
    from obliviate.methods import METHODS

    assert str(err.value) == (
        f"unlearn.method='npoo' is unknown; accepted: {', '.join(sorted(METHODS))} "
        "(did you mean 'npo'?)"
    )


def test_unknown_method_param():
    with pytest.raises(ObliviateError) as err:
        load_config(None, ["unlearn.method=npo", "unlearn.params.betta=1"])
    from obliviate.methods import get_method_class

    accepted = ", ".join(sorted(get_method_class("npo").param_defaults()))
    assert str(err.value) == (
        f"unlearn.params.betta is not a parameter of method 'npo'; accepted: {accepted} "
        "(did you mean 'beta'?)"
    )


def test_method_param_wrong_type():
    with pytest.raises(ObliviateError) as err:
        load_config(None, ["unlearn.params.beta=high"])
    assert str(err.value) == (
        "unlearn.params.beta='high' has the wrong type; expected float (default 0.1)"
    )


def test_unknown_benchmark_and_preset():
    with pytest.raises(ObliviateError) as err:
        load_config(None, ["benchmark.name=tofuu"])
    assert str(err.value) == (
        "benchmark.name='tofuu' is unknown; accepted: knowundo, muse, rwku, synthkb, tofu, wmdp "
        "(did you mean 'tofu'?)"
    )
    with pytest.raises(ObliviateError) as err:
        load_config(None, ["model.tiny_preset=huge"])
    assert str(err.value) == "model.tiny_preset='huge' is unknown; accepted: nano, small, tiny"


def test_yaml_file_errors(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("unlearn:\n  methd: gd\n")
    with pytest.raises(ObliviateError, match=str(bad)):
        load_config(bad)
    with pytest.raises(ObliviateError, match="does not exist"):
        load_config(tmp_path / "missing.yaml")


def test_retain_loss_checked_at_config_load_per_method():
    # one check in Method.validate_params serves every method with a retain term
    with pytest.raises(ObliviateError, match=r"retain_loss='kll' is unknown for method 'npo'"):
        load_config(None, ["unlearn.method=npo", "unlearn.params.retain_loss=kll"])
    with pytest.raises(ObliviateError, match="accepted: nll, kl, none"):
        load_config(None, ["unlearn.method=wga", "unlearn.params.retain_loss=embed_diff"])
    # RMU accepts its own activation-matching term as well
    cfg = load_config(None, ["unlearn.method=rmu", "unlearn.params.retain_loss=embed_diff"])
    assert cfg.unlearn.params["retain_loss"] == "embed_diff"


def test_uses_retain_follows_retain_loss():
    from obliviate.methods import get_method_class

    assert get_method_class("npo")({"retain_loss": "nll"}).uses_retain()
    assert not get_method_class("npo")({"retain_loss": "none"}).uses_retain()
    assert not get_method_class("ga")().uses_retain()  # no retain_loss parameter at all
