"""The user-facing error type and the accepted-values hint every config/registry error uses."""

from __future__ import annotations

import pytest

from obliviate.errors import ObliviateError, did_you_mean


def test_did_you_mean_sorts_accepted_and_suggests_the_closest() -> None:
    assert (
        did_you_mean("npoo", ["npo", "gd", "ga"]) == "accepted: ga, gd, npo (did you mean 'npo'?)"
    )
    # a tuple works as well; no near match -> no hint
    assert did_you_mean("zzz", ("b", "a")) == "accepted: a, b"
    assert did_you_mean("x", []) == "accepted: "


def test_only_the_single_closest_name_is_suggested() -> None:
    # "forget_val" and "forget" are both close to "forget_va"; difflib ranks forget_val first
    assert did_you_mean("forget_va", ["forget", "forget_val", "retain"]) == (
        "accepted: forget, forget_val, retain (did you mean 'forget_val'?)"
    )


def test_obliviate_error_is_an_exception_carrying_its_message() -> None:
    with pytest.raises(ObliviateError) as err:
        raise ObliviateError("unlearn.method='x' is unknown; accepted: ga")
    assert isinstance(err.value, Exception) and not isinstance(err.value, (ValueError, OSError))
    assert str(err.value) == "unlearn.method='x' is unknown; accepted: ga"
