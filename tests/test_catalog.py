"""The static method catalog that ``obliviate list methods`` prints equals the live registry."""

from __future__ import annotations

from obliviate.catalog import METHOD_CATALOG, catalog_source, live_catalog


def test_catalog_matches_the_registered_methods():
    live = live_catalog()
    assert sorted(METHOD_CATALOG) == sorted(live), "regenerate: see obliviate/catalog.py"
    for name, entry in live.items():
        assert METHOD_CATALOG[name] == entry, f"{name}: regenerate (obliviate/catalog.py)"


def test_catalog_source_evaluates_to_the_catalog():
    namespace: dict = {}
    exec("from obliviate.catalog import MethodEntry\n" + catalog_source(), namespace)
    assert namespace["METHOD_CATALOG"] == METHOD_CATALOG


def test_list_methods_prints_the_catalog(capsys):
    from obliviate.cli import main

    assert main(["list", "methods"]) == 0
    out = capsys.readouterr().out
    assert "npo " in out and METHOD_CATALOG["npo"].description in out
    assert "params: gamma=0.125, alpha=1.0, retain_loss='nll', beta=4.5, delta=0.0" in out
