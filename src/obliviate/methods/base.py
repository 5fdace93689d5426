"""The Method interface, its parameter validation and the registry.

A method declares what it needs (retain data, a reference) and implements
``loss(model, batch, ctx) -> (total, parts)``; ``prepare(ctx)`` does work once before training
(e.g. caching reference log-probs). Adding a method is one module plus one config.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, ClassVar

import torch

from ..config import adjuster, validator
from ..errors import ObliviateError, did_you_mean
from ..models.batches import labelled_forward

METHODS: dict[str, type[Method]] = {}


def register(cls: type[Method]) -> type[Method]:
    """Class decorator: make a method available by its ``name``."""
    if cls.name in METHODS:
        raise RuntimeError(f"method {cls.name!r} registered twice")
    METHODS[cls.name] = cls
    return cls


def register_variant(base: type[Method], name: str, description: str, **defaults: Any) -> type:
    """Register ``name``: method ``base`` under other parameter defaults (a peer's named
    configuration, e.g. ``npo_gd`` = ``npo`` with ``retain_loss="nll"``)."""
    unknown = sorted(set(defaults) - set(base.param_defaults()))
    if unknown:
        raise RuntimeError(f"variant {name!r}: {unknown} are not parameters of {base.name!r}")
    title = "".join(part.capitalize() for part in name.split("_"))
    params = dataclasses.make_dataclass(
        f"{title}Params",
        [(k, type(v), field(default=v)) for k, v in defaults.items()],
        bases=(base.Params,),
    )
    params.__module__ = base.__module__
    doc = f"``{base.name}`` with {', '.join(f'{k}={v!r}' for k, v in defaults.items())}."
    attrs = {"name": name, "description": description, "Params": params, "__doc__": doc}
    attrs["__module__"] = base.__module__
    return register(type(title, (base,), attrs))


@dataclass
class NoParams:
    pass


@dataclass
class Context:
    """What a method may use besides the batch.

    ``reference``: a reference-model object with ``logits(batch)`` (``models.reference``) or
    None; ``ref_cache``: per-item reference statistics computed once by ``prepare`` (e.g. the
    sequence NLL of every forget item); ``forget``/``retain``: the encoded training examples
    (what ``build_forget``/``build_retain`` returned); ``data``: the whole benchmark (for methods
    that build their own data, e.g. IdK answers).
    """

    formatter: Any
    forget: list[Any]
    retain: list[Any]
    reference: Any = None
    ref_cache: dict[str, torch.Tensor] = field(default_factory=dict)
    device: torch.device = torch.device("cpu")
    batch_size: int = 8
    data: Any = None
    seed: int = 0
    load_model: Any = None  # role ("base", "target", ...) -> a freshly loaded model


class Method:
    """Base class: subclasses set ``name``, ``description``, ``Params`` and ``loss``."""

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    Params: ClassVar[type] = NoParams
    needs_retain: ClassVar[bool] = False
    trains: ClassVar[bool] = True  # False: no weight update (e.g. in-context unlearning)
    # generated training data the run provides in data.extras["generated"][kind] before
    # build_forget ("relearn", "meow"; see obliviate.generate.store); "" = none
    needs_generated: ClassVar[str] = ""
    needs_region: ClassVar[bool] = False  # True: train only a localised region (MemFlex)
    # ``eval.protocol`` of the run (the unlearn stage sets it): ``paper`` / ``ou`` train as the
    # reference code does, ``fixed`` applies obliviate's corrections (README "Protocols")
    protocol: str = "paper"

    def __init__(self, params: dict[str, Any] | None = None):
        self.validate_params(params or {})
        self.p = self.Params(**(params or {}))
        self.given = frozenset(params or {})  # parameter names set explicitly

    @property
    def reference_protocol(self) -> bool:
        """Whether the reference code's training step applies (``protocol`` paper or ou)."""
        return self.protocol != "fixed"

    @classmethod
    def protocol_changes_training(cls, params: dict[str, Any], benchmark: str) -> bool:
        """Whether ``eval.protocol`` changes this method's training step with ``params`` on
        ``benchmark`` (then it enters the unlearn stage's fingerprint). Default: no."""
        return False

    @classmethod
    def param_defaults(cls) -> dict[str, Any]:
        return {f.name: f.default for f in dataclasses.fields(cls.Params)}

    @classmethod
    def validate_params(cls, params: dict[str, Any]) -> None:
        """Reject unknown parameter names and values of the wrong type, naming the accepted ones."""
        defaults = cls.param_defaults()
        for key, value in params.items():
            if key not in defaults:
                accepted = did_you_mean(key, list(defaults)) if defaults else "accepted: none"
                raise ObliviateError(
                    f"unlearn.params.{key} is not a parameter of method {cls.name!r}; {accepted}"
                )
            default = defaults[key]
            ok = (
                isinstance(value, type(default))
                or (isinstance(default, float) and isinstance(value, int))
                or default is None
            )
            if isinstance(value, bool) and not isinstance(default, bool):
                ok = False
            if not ok:
                raise ObliviateError(
                    f"unlearn.params.{key}={value!r} has the wrong type; "
                    f"expected {type(default).__name__} (default {default!r})"
                )

    def uses_retain(self) -> bool:
        """Whether batches need retain items (``needs_retain``; a ``RetainTerm`` derives it from
        its retain loss)."""
        return self.needs_retain

    def needs_reference_model(self) -> bool:
        """Whether a frozen reference model must be kept during training."""
        return False

    def build_forget(self, records: list[Any], formatter: Any, data: Any) -> list[Any]:
        """Training examples of the forget stream: ``Encoded`` items, or dicts of ``Encoded``
        (e.g. ``{"chosen": ..., "rejected": ...}``), collated key by key by the trainer."""
        return [formatter.encode_record(r) for r in records]

    def build_retain(self, records: list[Any], formatter: Any, data: Any) -> list[Any]:
        """Training examples of the retain stream (default: the encoded retain records)."""
        return [formatter.encode_record(r) for r in records]

    def prepare(self, model: torch.nn.Module, ctx: Context) -> None:
        """Work done once before training (default: nothing)."""

    def before_step(self, model: torch.nn.Module, ctx: Context) -> None:
        """Hook after backward, before ``optimizer.step()`` (e.g. a gradient mask)."""

    def eval_prefix(self, record: Any) -> str:
        """Text prepended to the user message of every eval prompt (in-context unlearning)."""
        return ""

    def prepare_eval(self, data: Any) -> None:
        """Called with the benchmark before ``eval_prefix`` is used (e.g. to read the targets)."""

    def loss(
        self, model: torch.nn.Module, batch: dict[str, Any], ctx: Context
    ) -> tuple[torch.Tensor, dict[str, float]]:
        raise NotImplementedError

    def after_step(self, ctx: Context, parts: dict[str, float]) -> None:
        """Hook after each optimizer step (e.g. a dual-variable update)."""


def training_protocol(cfg: Any) -> dict[str, str]:
    """``{"protocol": eval.protocol}`` when the protocol changes what the unlearn stage trains
    (the ``kud-nn`` template's token set, or the method's step: ``protocol_changes_training``),
    else ``{}``; the unlearn fingerprint includes it. ``fixed`` trains as obliviate did before
    the protocols existed, so it adds nothing (earlier run directories stay reusable)."""
    if cfg.eval.protocol == "fixed":
        return {}
    cls = get_method_class(cfg.unlearn.method)
    changes = cfg.model.template == "kud-nn" or cls.protocol_changes_training(
        dict(cfg.unlearn.params), cfg.benchmark.name
    )
    return {"protocol": cfg.eval.protocol} if changes else {}


def get_method_class(name: str) -> type[Method]:
    if name not in METHODS:
        raise ObliviateError(
            f"unlearn.method={name!r} is unknown; {did_you_mean(name, list(METHODS))}"
        )
    return METHODS[name]


@adjuster
def _params_of_new_method(cfg: Any, file_cfg: Any, overrides: dict[str, Any]) -> list[str]:
    """``unlearn.method=X`` on the command line over a config written for another method: keep
    only the file's ``unlearn.params`` that X takes (parameters given on the command line are
    kept, so a wrong one is still an error)."""
    unl = overrides.get("unlearn")
    if not isinstance(unl, dict) or "method" not in unl or unl["method"] == file_cfg.unlearn.method:
        return []
    cls = METHODS.get(cfg.unlearn.method)
    if cls is None:  # the validator names the accepted methods
        return []
    given = unl.get("params") if isinstance(unl.get("params"), dict) else {}
    accepted = cls.param_defaults()
    dropped = [k for k in cfg.unlearn.params if k not in accepted and k not in given]
    for key in dropped:
        del cfg.unlearn.params[key]
    if not dropped:
        return []
    return [
        f"unlearn.method={cls.name} (the config file has {file_cfg.unlearn.method}): dropped "
        f"unlearn.params {', '.join(dropped)}, which {cls.name} does not take"
    ]


@validator
def _check_method(cfg: Any) -> None:
    get_method_class(cfg.unlearn.method).validate_params(cfg.unlearn.params)


def forward_logits(model: torch.nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """Logits [B, K, V] of a collated batch from its earliest labelled position on (the prompt's
    positions get no vocabulary projection; :func:`obliviate.models.batches.labelled_forward`).
    Every loss in :mod:`.losses` aligns them with the labels' last K columns: the values are
    those of the full [B, T, V] logits."""
    return labelled_forward(model, batch).logits


def cache_forget_nll_sums(model: torch.nn.Module, ctx: Context) -> None:
    """NLL_sum of every forget item under the starting model, in
    ``ctx.ref_cache["forget_nll_sum"]`` (NPO's cached reference)."""
    ctx.ref_cache["forget_nll_sum"] = reference_nll_sums(model, ctx.forget, ctx)


def reference_nll_sums(model: torch.nn.Module, examples: list[Any], ctx: Context) -> torch.Tensor:
    """NLL_sum of each example under ``model`` before training: the cached reference of
    sequence-level methods (SPEC 3.0 strategy c), one batched scoring pass, no model copy."""
    from ..eval.scoring import score

    stats = score(model, examples, ctx.formatter.pad_id, ctx.batch_size, ctx.device)
    return torch.tensor([-float(s.logprobs.sum()) for s in stats])
