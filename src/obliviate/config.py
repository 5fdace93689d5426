"""Config machinery: sections owned by their components, YAML loading, dotted overrides.

Each component owns the dataclass of its config section and registers it here with
:func:`section` (``training.py``: ``finetune`` / ``unlearn``; ``eval/settings.py``: ``eval``;
each benchmark loader: its part of ``benchmark``), and its name checks with :func:`validator`.
This module composes them into one structured schema: a YAML file is merged onto it, then
``key=value`` overrides, then every validator runs. Unknown keys, wrong types and unknown names
raise :class:`ObliviateError` naming the key and the accepted values.

It imports no other module of the package but :mod:`.errors` (a leaf), so any component may
import it. The components are imported on first need, not when ``obliviate`` is imported (so
``obliviate list`` or ``--help`` never load torch): the package registers the function that
imports them with :func:`complete_with`, and everything here that reads the schema (loading,
validating, :func:`section_names`, :func:`section_class`, the section classes as attributes of
this module, ``obliviate.config.TrainConfig``) first calls :func:`ensure_components`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import ConfigKeyError, OmegaConfBaseException, ValidationError

from .errors import ObliviateError, did_you_mean

# the order sections are written in config.yaml; sections registered under other names follow
SECTION_ORDER = ("run", "benchmark", "model", "finetune", "unlearn", "eval", "generate")
_PARTS: dict[str, list[type]] = {}  # section -> the dataclasses whose fields it holds
_VALIDATORS: list[Callable[[Any], None]] = []
_ADJUSTERS: list[Callable[[Any, Any, dict[str, Any]], list[str]]] = []
_COMPOSED: dict[tuple[type, ...], type] = {}
_COMPLETERS: list[Callable[[], None]] = []  # each imports the components that register here
_COMPLETE = {"done": False, "running": False}


def complete_with(fn: Callable[[], None]) -> None:
    """Register ``fn()``: imports the components that register sections, validators and
    adjusters (the package registers one; :func:`ensure_components` calls it once)."""
    if fn not in _COMPLETERS:
        _COMPLETERS.append(fn)
        _COMPLETE["done"] = False


def ensure_components() -> None:
    """Import every registered component once, so the schema and the checks are complete (a call
    made while they are being imported, by one of them, returns at once)."""
    if _COMPLETE["done"] or _COMPLETE["running"]:
        return
    _COMPLETE["running"] = True
    try:
        for fn in list(_COMPLETERS):
            fn()
        _COMPLETE["done"] = True
    finally:
        _COMPLETE["running"] = False


def _builtins_first(obj: Any) -> None:
    """A registration from outside the package (an extension's section, check or adjuster)
    imports the package's own components first, so theirs come first in every list."""
    if not getattr(obj, "__module__", "").startswith(f"{__name__.rpartition('.')[0]}."):
        ensure_components()


def section_names() -> list[str]:
    """Every registered section, in ``config.yaml`` order (:data:`SECTION_ORDER` first)."""
    ensure_components()
    return [n for n in SECTION_ORDER if n in _PARTS] + [n for n in _PARTS if n not in SECTION_ORDER]


def section_parts(name: str) -> list[type]:
    """The dataclasses whose fields section ``name`` holds, in registration order."""
    ensure_components()
    return list(_PARTS.get(name, []))


def section(name: str) -> Callable[[type], type]:
    """Class decorator: ``cls`` is the dataclass of config section ``name``, or one part of it
    (a section with several parts, such as ``benchmark``, holds the fields of all of them)."""

    def register(cls: type) -> type:
        _builtins_first(cls)
        parts = _PARTS.setdefault(name, [])
        if cls not in parts:
            parts.append(cls)
        return cls

    return register


def validator(fn: Callable[[Any], None]) -> Callable[[Any], None]:
    """Register ``fn(cfg)``: a check of registered names run by :func:`load_config`."""
    _builtins_first(fn)
    if fn not in _VALIDATORS:
        _VALIDATORS.append(fn)
    return fn


def adjuster(fn: Callable[[Any, Any, dict[str, Any]], list[str]]):
    """Register ``fn(cfg, file_cfg, overrides) -> notes``: run by :func:`load_config` after the
    overrides are merged and before the validators, it may reconcile what the file says with what
    the command line changed (``file_cfg``: the schema + file only; ``overrides``: the nested
    override dict), e.g. drop the parameters of the file's method that a method named on the
    command line does not take. Each returned note is printed as one line on stderr."""
    _builtins_first(fn)
    if fn not in _ADJUSTERS:
        _ADJUSTERS.append(fn)
    return fn


def _compose(name: str, parts: tuple[type, ...], class_name: str) -> type:
    """One dataclass holding the fields of ``parts`` (a field defined twice must agree)."""
    if len(parts) == 1:
        return parts[0]
    if parts not in _COMPOSED:
        fields: dict[str, tuple[str, Any, dataclasses.Field]] = {}
        for part in parts:
            for f in dataclasses.fields(part):
                spec = (f.name, f.type, dataclasses.field(default=f.default, default_factory=f.default_factory))  # fmt: skip
                if f.name in fields:
                    old = fields[f.name][2]
                    if (old.default, old.default_factory) != (f.default, f.default_factory):
                        raise RuntimeError(
                            f"config section {name!r}: field {f.name!r} is defined twice "
                            f"with different defaults ({part.__name__})"
                        )
                    continue
                fields[f.name] = spec
        _COMPOSED[parts] = dataclasses.make_dataclass(class_name, list(fields.values()))
    return _COMPOSED[parts]


def section_class(name: str) -> type:
    """The dataclass of section ``name`` (composed from its parts)."""
    ensure_components()
    if name not in _PARTS:
        raise ObliviateError(f"config section {name!r} is unknown; accepted: {', '.join(_PARTS)}")
    return _compose(name, tuple(_PARTS[name]), f"{name.capitalize()}Config")


def schema_class() -> type:
    """The top-level ``Config`` dataclass: one field per registered section."""
    sections = tuple((n, section_class(n)) for n in section_names())
    key = tuple(cls for _, cls in sections) + (Config,)
    if key not in _COMPOSED:
        fields = [(n, cls, dataclasses.field(default_factory=cls)) for n, cls in sections]
        _COMPOSED[key] = dataclasses.make_dataclass("Config", fields, bases=(Config,))
    return _COMPOSED[key]


class Config:
    """Base of the composed config class: ``cfg.<section>.<key>`` for every section."""


def _classes() -> list[type]:
    """Every registered section class, its parts, their bases and nested section classes."""
    ensure_components()
    found: list[type] = []
    todo = [c for sec, parts in _PARTS.items() for c in (section_class(sec), *parts)]
    while todo:
        cls = todo.pop(0)
        if cls in found or not dataclasses.is_dataclass(cls):
            continue
        found.append(cls)
        todo += list(cls.__mro__[1:])
        todo += [
            f.default_factory
            for f in dataclasses.fields(cls)
            if isinstance(f.default_factory, type)
        ]
    return found


def __getattr__(name: str) -> type:
    """``obliviate.config.<SectionClass>``: a registered section class by its class name."""
    if name.startswith("_"):  # dunder probes (copy, pickle, inspect) import no component
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    for cls in _classes():
        if cls.__name__ == name:
            return cls
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@section("run")
@dataclass
class RunConfig:
    name: str = ""  # empty: derived as <benchmark>_<method>
    out_dir: str = "runs"
    seed: int = 0
    reuse: bool = True  # reuse a finished stage whose config is unchanged
    base_run: str = ""  # take the base/target/retain models (and their eval) from this run dir


@validator
def _check_run_name(cfg: Any) -> None:
    """``run.name`` is one directory name inside ``run.out_dir``: no separator, no ``..``."""
    name = cfg.run.name
    if name and (name in (".", "..") or "/" in name or "\\" in name or name.startswith("~")):
        raise ObliviateError(
            f"run.name={name!r} would write outside run.out_dir; accepted: one directory name "
            "(letters, digits, '-', '_', '.'), e.g. run.name=tofu_npo_lr1e-5"
        )


def _schema() -> DictConfig:
    return OmegaConf.structured(schema_class())


def _accepted_keys(schema: DictConfig, dotted: str) -> list[str]:
    node: Any = schema
    parts = dotted.split(".")[:-1]
    for part in parts:
        if not isinstance(node, DictConfig) or part not in node:
            break
        node = node[part]
    prefix = ".".join(parts)
    if isinstance(node, DictConfig):
        return [f"{prefix}.{k}" if prefix else str(k) for k in node]
    return []


def _merge(base: DictConfig, other: Any, source: str) -> DictConfig:
    try:
        return OmegaConf.merge(base, other)  # type: ignore[return-value]
    except ConfigKeyError as exc:
        key = str(exc.full_key) if getattr(exc, "full_key", None) else str(exc)
        accepted = _accepted_keys(base, key)
        raise ObliviateError(
            f"{source}: unknown config key {key!r}; {did_you_mean(key, accepted)}"
        ) from None
    except ValidationError as exc:
        key = getattr(exc, "full_key", "?")
        raise ObliviateError(
            f"{source}: wrong type for config key {key!r}: {exc.msg.splitlines()[0]}"
        ) from None
    except OmegaConfBaseException as exc:
        raise ObliviateError(f"{source}: {str(exc).splitlines()[0]}") from None


def parse_overrides(overrides: list[str]) -> dict[str, Any]:
    """Turn ``a.b=c`` strings into a nested dict; values are parsed as YAML scalars/lists."""
    nested: dict[str, Any] = {}
    for item in overrides:
        if "=" not in item:
            raise ObliviateError(f"override {item!r} is not of the form key=value")
        key, raw = item.split("=", 1)
        if not key:
            raise ObliviateError(f"override {item!r} has an empty key")
        try:
            value = yaml.safe_load(raw) if raw != "" else ""
        except yaml.YAMLError:
            value = raw
        node = nested
        parts = key.split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ObliviateError(f"override {item!r} conflicts with an earlier override")
        node[parts[-1]] = value
    return nested


def _replaced_paths(overrides: list[str]) -> list[str]:
    """Dotted keys whose override value is a mapping (``unlearn.params={}``): such a value
    replaces the node instead of being merged into it."""
    paths = []
    for item in overrides:
        key, _, raw = item.partition("=")
        try:
            value = yaml.safe_load(raw) if raw else ""
        except yaml.YAMLError:
            continue
        if isinstance(value, dict):
            paths.append(key)
    return paths


def _nested_get(nested: dict[str, Any], dotted: str) -> Any:
    node: Any = nested
    for part in dotted.split("."):
        node = node[part]
    return node


def _load_yaml(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise ObliviateError(f"config file {path} does not exist")
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        what = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ObliviateError(f"{path}: invalid YAML{at}: {what}") from None
    if not isinstance(data, dict):
        raise ObliviateError(f"{path}: top level must be a mapping of sections")
    return data


def load_config(path: str | Path | None = None, overrides: list[str] | None = None) -> Any:
    """Build a validated config: schema ← YAML file ← overrides, then every validator.

    A mapping value (``unlearn.params={}``, ``unlearn.params={beta: 0.2}``) replaces the node it
    names; dotted keys (``unlearn.params.beta=0.2``) merge into it. The registered adjusters run
    between the merge and the validators (see :func:`adjuster`).
    """
    cfg = _schema()
    if path is not None:
        cfg = _merge(cfg, _load_yaml(Path(path)), str(path))
    file_cfg = cfg
    nested = parse_overrides(overrides or [])
    if nested:
        cfg = _merge(cfg, nested, "command line")
        for dotted in _replaced_paths(overrides or []):
            try:
                OmegaConf.update(cfg, dotted, _nested_get(nested, dotted), merge=False)
            except OmegaConfBaseException as exc:
                raise ObliviateError(
                    f"command line: {dotted}: {str(exc).splitlines()[0]}"
                ) from None
    obj = OmegaConf.to_object(cfg)
    ensure_components()  # the schema above did; the adjusters and validators are theirs too
    for adjust in _ADJUSTERS:
        for note in adjust(obj, file_cfg, nested):
            print(f"obliviate: note: {note}", file=sys.stderr)
    validate(obj)
    return obj


def default_config() -> Any:
    """The schema's defaults as a config object (validated)."""
    return load_config()


def validate(cfg: Any) -> None:
    """Run every registered validator (each names the key and the accepted values)."""
    ensure_components()
    for check in _VALIDATORS:
        check(cfg)


def to_dict(cfg: Any) -> dict[str, Any]:
    return OmegaConf.to_container(OmegaConf.structured(cfg), resolve=True)  # type: ignore[return-value]


def to_yaml(cfg: Any) -> str:
    return yaml.safe_dump(to_dict(cfg), sort_keys=False)


def fingerprint(*parts: Any) -> str:
    """Stable hash of JSON-serialisable parts (decides whether a finished stage is reused)."""
    blob = json.dumps(parts, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:16]
