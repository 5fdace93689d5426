"""Unlearning methods: every module in this package registers its methods on import."""

from __future__ import annotations

import importlib
import pkgutil

from .base import METHODS, Context, Method, get_method_class, register

_SKIP = {"base", "losses", "retain"}
for _mod in pkgutil.iter_modules(__path__):
    if _mod.name not in _SKIP:
        importlib.import_module(f"{__name__}.{_mod.name}")

__all__ = ["METHODS", "Context", "Method", "get_method_class", "register"]
