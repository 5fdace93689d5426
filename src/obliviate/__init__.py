"""obliviate: knowledge unlearning for large language models.

Importing the package is cheap: it imports :mod:`obliviate.config` (YAML + omegaconf) and
nothing that loads torch or transformers. The components that own a config section or a
config check (:data:`COMPONENTS`) are imported the first time the schema is read
(:func:`obliviate.config.ensure_components`: loading or validating a config, listing its
keys), and the sub-packages on first attribute access (``obliviate.methods``, PEP 562), so
``obliviate --help`` and ``obliviate list`` start in a fraction of a second.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from . import config as _config

__version__ = "0.1.0"

# every module that registers a config section, a validator or an adjuster on import
COMPONENTS = (
    "benchmarks",
    "checks",
    "formatting",
    "methods",
    "tracking",
    "training",
    "attacks.settings",
    "eval.settings",
    "generate.settings",
    "models.loading",
    "models.scope",
)


def _import_components() -> None:
    for name in COMPONENTS:
        importlib.import_module(f"{__name__}.{name}")


_config.complete_with(_import_components)


def __getattr__(name: str) -> ModuleType:
    """``obliviate.<submodule>`` imported on first access (``obliviate.methods.METHODS``)."""
    if name.startswith("_"):
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    try:
        return importlib.import_module(f"{__name__}.{name}")
    except ModuleNotFoundError as exc:
        if exc.name != f"{__name__}.{name}":
            raise
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
