"""The bad-input corpus (issue 14 item 7): configs, data files, model directories and command
lines that must each end with exit status 2 and one line ``obliviate: error: ...`` naming the
key, file or field, never a traceback and never a silent acceptance. Every case runs in-process
through :func:`obliviate.cli.main` and fails before any model is built or trained."""

from __future__ import annotations

import errno
import json
import shutil
import socket
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from obliviate.cli import main
from obliviate.errors import ObliviateError

SMALL = ["benchmark.people=8", "benchmark.holdout_people=2", "model.tiny_preset=nano",
         "model.tokenizer_vocab=400"]  # fmt: skip


@dataclass
class World:
    """Paths the cases use (made once per module)."""

    root: Path
    synth: Path  # a good synthkb copy (benchmark.path)

    def out(self) -> str:
        return f"run.out_dir={self.root / 'runs'}"

    def kb(self, name: str, edit: Callable[[Path], None]) -> str:
        """A copy of the synthkb directory changed by ``edit``: ``benchmark.path=<copy>``."""
        d = self.root / "kb" / name
        if not d.exists():
            shutil.copytree(self.synth, d)
            edit(d)
        return f"benchmark.path={d}"

    def model_dir(self, name: str, files: dict[str, str]) -> str:
        d = self.root / "models" / name
        d.mkdir(parents=True, exist_ok=True)
        for file, text in files.items():
            (d / file).write_text(text)
        return f"model.name_or_path={d}"

    def file(self, name: str, text: str) -> str:
        path = self.root / "files" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        return str(path)

    def knowundo(self, name: str, lists: dict[str, list]) -> str:
        d = self.root / "kud" / name
        d.mkdir(parents=True, exist_ok=True)
        for file, rows in lists.items():
            (d / f"{file}.json").write_text(json.dumps(rows))
        return f"benchmark.path={d}"


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> World:
    root = tmp_path_factory.mktemp("bad")
    assert main(["data", "synth", "--out", str(root / "synth"), "--people", "8",
                 "--holdout", "2"]) == 0  # fmt: skip
    return World(root, root / "synth")


def _run(w: World, *args: str) -> list[str]:
    return ["run", *SMALL, w.out(), *args]


def _set(path: Path, text: str) -> None:
    path.write_text(text)


def _copy(src: str, dst: str) -> Callable[[Path], None]:
    return lambda d: shutil.copy(d / src, d / dst)


def _first_line(file: str, text: str) -> Callable[[Path], None]:
    def edit(d: Path) -> None:
        lines = (d / file).read_text().splitlines()
        (d / file).write_text("\n".join([text, *lines[1:]]) + "\n")

    return edit


def _kud_rows(kind: str, n: int) -> list[dict[str, str]]:
    return [{"text": f"What is {kind} fact {i}?", "labels": f"{kind} answer {i}"} for i in range(n)]


def _kud(w: World, name: str, **lists) -> list[str]:
    base = {"unlearn_train": _kud_rows("forget", 4), "unlearn_val": _kud_rows("forget val", 2),
            "retention_train": _kud_rows("retain", 4), "retention_val": _kud_rows("retain val", 2)}  # fmt: skip
    base.update(lists)
    base = {k: v for k, v in base.items() if v is not None}
    return ["run", "benchmark.name=knowundo", "benchmark.domain=privacy", "model.tiny_preset=nano",
            "model.tokenizer_vocab=300", w.out(), w.knowundo(name, base)]  # fmt: skip


def _full_disk(monkeypatch) -> None:
    """Every atomic write of the run directory fails as on a full disk."""
    import obliviate.run_dir as run_dir

    def full(path, text):
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(run_dir, "write_atomic", full)


def _live_lock(w: World, name: str) -> str:
    d = w.root / "runs" / name
    d.mkdir(parents=True, exist_ok=True)
    (d / ".lock").write_text(f"1 {socket.gethostname()}\n")  # pid 1 always runs
    return f"run.name={name}"


def _own_base_run(w: World) -> list[str]:
    d = w.root / "runs" / "selfbase"
    (d / "stages").mkdir(parents=True, exist_ok=True)
    return _run(w, "run.name=selfbase", f"run.base_run={d}")


# (id, argv builder, what the one line must name); a builder may take monkeypatch too
CASES: list[tuple[str, Callable[..., list[str]], str]] = [
    # -- training keys
    ("epochs-0", lambda w: _run(w, "unlearn.epochs=0"), "unlearn.epochs=0"),
    ("epochs-neg", lambda w: _run(w, "unlearn.epochs=-3"), "unlearn.epochs=-3"),
    ("ft-epochs-0", lambda w: _run(w, "finetune.epochs=0"), "finetune.epochs=0"),
    ("max-steps-0", lambda w: _run(w, "unlearn.max_steps=0"), "unlearn.max_steps=0"),
    ("lr-neg", lambda w: _run(w, "unlearn.lr=-1e-3"), "unlearn.lr=-0.001"),
    ("lr-0", lambda w: _run(w, "unlearn.lr=0"), "unlearn.lr=0"),
    ("ft-lr-neg", lambda w: _run(w, "finetune.lr=-1"), "finetune.lr=-1"),
    ("warmup-2", lambda w: _run(w, "unlearn.warmup_ratio=2"), "unlearn.warmup_ratio=2"),
    ("warmup-neg", lambda w: _run(w, "finetune.warmup_ratio=-0.1"), "finetune.warmup_ratio"),
    ("batch-0", lambda w: _run(w, "unlearn.batch_size=0"), "unlearn.batch_size=0"),
    ("ft-batch-neg", lambda w: _run(w, "finetune.batch_size=-4"), "finetune.batch_size=-4"),
    ("accum-0", lambda w: _run(w, "unlearn.grad_accum=0"), "unlearn.grad_accum=0"),
    ("log-every-0", lambda w: _run(w, "unlearn.log_every=0"), "unlearn.log_every=0"),
    ("decay-neg", lambda w: _run(w, "unlearn.weight_decay=-0.1"), "unlearn.weight_decay"),
    ("clip-neg", lambda w: _run(w, "unlearn.max_grad_norm=-1"), "unlearn.max_grad_norm"),
    ("ckpt-neg", lambda w: _run(w, "unlearn.checkpoint_every=-1"), "unlearn.checkpoint_every"),
    ("scheduler", lambda w: _run(w, "unlearn.scheduler=cosin"), "unlearn.scheduler"),
    ("on-nan", lambda w: _run(w, "unlearn.on_nan=ignore"), "unlearn.on_nan"),
    ("mixed-precision", lambda w: _run(w, "unlearn.mixed_precision=fp8"), "mixed_precision"),
    ("scope", lambda w: _run(w, "unlearn.scope=lorra"), "unlearn.scope"),
    ("layers", lambda w: _run(w, "unlearn.scope=layers", "unlearn.layers=abc"), "unlearn.layers"),
    ("region-no-file", lambda w: _run(w, "unlearn.scope=region"), "unlearn.region_file"),
    ("ft-disabled-retain", lambda w: _run(w, "finetune.enabled=false"), "finetune.retain_model"),
    # -- model keys
    ("max-length-1", lambda w: _run(w, "model.max_length=1"), "model.max_length=1"),
    ("max-length-0", lambda w: _run(w, "model.max_length=0"), "model.max_length=0"),
    ("max-length-big", lambda w: _run(w, "model.max_length=5000"), "model.max_length=5000"),
    ("dtype", lambda w: _run(w, "model.dtype=float64"), "model.dtype"),
    ("dtype-short", lambda w: _run(w, "model.dtype=bf16"), "model.dtype"),
    ("tiny-preset", lambda w: _run(w, "model.tiny_preset=huge"), "model.tiny_preset"),
    ("model-empty-dir", lambda w: _run(w, w.model_dir("empty", {})), "the directory is empty"),
    (
        "model-no-config",
        lambda w: _run(w, w.model_dir("noconf", {"model.safetensors": "x"})),
        "has no config.json",
    ),
    (
        "model-remote-code",
        lambda w: _run(
            w,
            w.model_dir(
                "remote",
                {
                    "config.json": json.dumps(
                        {"model_type": "x", "auto_map": {"AutoModelForCausalLM": "m.M"}}
                    )
                },
            ),
        ),
        "model.trust_remote_code",
    ),
    (
        "model-bad-config",
        lambda w: _run(w, w.model_dir("badconf", {"config.json": "{"})),
        "config.json",
    ),
    (
        "model-short-positions",
        lambda w: _run(
            w,
            w.model_dir(
                "short",
                {"config.json": json.dumps({"model_type": "llama", "max_position_embeddings": 64})},
            ),
        ),
        "exceeds the model's 64",
    ),
    ("model-missing", lambda w: _run(w, "model.name_or_path=./no/such/model"), "does not exist"),
    # -- method parameters
    ("npo-beta-neg", lambda w: _run(w, "unlearn.params.beta=-1"), "unlearn.params.beta=-1"),
    ("npo-beta-0", lambda w: _run(w, "unlearn.params.beta=0"), "unlearn.params.beta=0"),
    ("npo-gamma-neg", lambda w: _run(w, "unlearn.params.gamma=-1"), "unlearn.params.gamma"),
    ("npo-alpha-neg", lambda w: _run(w, "unlearn.params.alpha=-1"), "unlearn.params.alpha"),
    ("pdu-no-epsilon", lambda w: _run(w, "unlearn.method=pdu"), "unlearn.params.epsilon"),
    (
        "pdu-step-neg",
        lambda w: _run(
            w,
            "unlearn.method=pdu",
            "unlearn.params.epsilon=0.3",
            "unlearn.params.dual_step_size=-1",
        ),
        "dual_step_size",
    ),
    (
        "simnpo-beta",
        lambda w: _run(w, "unlearn.method=simnpo", "unlearn.params.beta=-2"),
        "unlearn.params.beta",
    ),
    (
        "dpo-beta",
        lambda w: _run(w, "unlearn.method=dpo", "unlearn.params.beta=-0.1"),
        "unlearn.params.beta",
    ),
    (
        "sure-percentile",
        lambda w: _run(w, "unlearn.method=sure", "unlearn.params.percentile=150"),
        "unlearn.params.percentile",
    ),
    (
        "memflex-copies",
        lambda w: _run(w, "unlearn.method=memflex", "unlearn.params.num_copies=0"),
        "unlearn.params.num_copies",
    ),
    (
        "rmu-coeff",
        lambda w: _run(w, "unlearn.method=rmu", "unlearn.params.steering_coeff=0"),
        "unlearn.params.steering_coeff",
    ),
    (
        "altpo-alternates",
        lambda w: _run(w, "unlearn.method=altpo", "unlearn.params.num_alternates=0"),
        "num_alternates",
    ),
    (
        "param-unknown",
        lambda w: _run(w, "unlearn.params.nonexistent=1"),
        "unlearn.params.nonexistent",
    ),
    ("param-type", lambda w: _run(w, "unlearn.params.beta=abc"), "unlearn.params.beta"),
    ("method-unknown", lambda w: _run(w, "unlearn.method=npoo"), "unlearn.method"),
    # -- eval keys
    ("eval-models-empty", lambda w: _run(w, "eval.models=[]"), "eval.models=[]"),
    ("eval-models-typo", lambda w: _run(w, "eval.models=[targett]"), "'targett'"),
    ("eval-models-typo2", lambda w: _run(w, "eval.models=[target,unlearnd]"), "'unlearnd'"),
    ("eval-batch-0", lambda w: _run(w, "eval.batch_size=0"), "eval.batch_size=0"),
    ("eval-batch-neg", lambda w: _run(w, "eval.batch_size=-1"), "eval.batch_size=-1"),
    ("eval-new-tokens-0", lambda w: _run(w, "eval.max_new_tokens=0"), "eval.max_new_tokens=0"),
    (
        "eval-meow-tokens",
        lambda w: _run(w, "eval.meow_max_new_tokens=0"),
        "eval.meow_max_new_tokens",
    ),
    (
        "eval-lmeval-batch",
        lambda w: _run(w, "eval.lm_eval.batch_size=0"),
        "eval.lm_eval.batch_size",
    ),
    ("eval-min-k-0", lambda w: _run(w, "eval.min_k=0"), "eval.min_k"),
    ("eval-min-k-big", lambda w: _run(w, "eval.min_k=1.5"), "eval.min_k"),
    ("eval-backend", lambda w: _run(w, "eval.backend=tgi"), "eval.backend"),
    ("eval-protocol", lambda w: _run(w, "eval.protocol=paperz"), "eval.protocol"),
    ("eval-metric", lambda w: _run(w, "eval.metrics=[nonsense_metric]"), "nonsense_metric"),
    # -- run keys and paths
    ("name-dotdot", lambda w: _run(w, "run.name=../../x"), "run.name"),
    ("name-abs", lambda w: _run(w, "run.name=/tmp/x"), "run.name"),
    ("name-sep", lambda w: _run(w, "run.name=a/b"), "run.name"),
    (
        "out-dir-file",
        lambda w: ["run", *SMALL, f"run.out_dir={w.file('plain', 'x')}"],
        "run.out_dir",
    ),
    (
        "out-dir-readonly",
        lambda w: ["run", *SMALL, "run.out_dir=/proc/sys/obliviate"],
        "run.out_dir",
    ),
    ("base-run-missing", lambda w: _run(w, f"run.base_run={w.root / 'nowhere'}"), "run.base_run"),
    ("base-run-self", _own_base_run, "run.base_run"),
    ("locked-run-dir", lambda w: _run(w, _live_lock(w, "locked")), "in use by pid 1"),
    # -- config files and override syntax
    ("benchmark-unknown", lambda w: _run(w, "benchmark.name=tofuu"), "benchmark.name"),
    ("key-unknown", lambda w: _run(w, "foo.bar=1"), "'foo'"),
    ("key-typo", lambda w: _run(w, "unlearn.lrr=1e-3"), "unlearn.lrr"),
    ("key-type", lambda w: _run(w, "unlearn.epochs=abc"), "unlearn.epochs"),
    ("override-no-eq", lambda w: _run(w, "unlearn.lr"), "'unlearn.lr'"),
    ("override-empty-key", lambda w: _run(w, "=3"), "'=3'"),
    ("config-missing", lambda w: ["run", str(w.root / "nope.yaml")], "nope.yaml"),
    ("config-bad-yaml", lambda w: ["run", w.file("bad.yaml", "run: [unclosed\n")], "bad.yaml"),
    ("config-list", lambda w: ["run", w.file("list.yaml", "- a\n- b\n")], "list.yaml"),
    (
        "config-unknown-key",
        lambda w: ["run", w.file("unk.yaml", "unlearn:\n  methd: ga\n")],
        "unlearn.methd",
    ),
    (
        "config-type",
        lambda w: ["run", w.file("type.yaml", "finetune:\n  epochs: many\n")],
        "finetune.epochs",
    ),
    (
        "config-bad-value",
        lambda w: ["run", w.file("val.yaml", "unlearn:\n  lr: -0.5\n")],
        "unlearn.lr",
    ),
    # -- data files (synthkb copies)
    (
        "data-path-missing",
        lambda w: _run(w, f"benchmark.path={w.root / 'nodata'}"),
        "benchmark.path",
    ),
    (
        "data-no-manifest",
        lambda w: _run(w, w.kb("nomanifest", lambda d: (d / "manifest.json").unlink())),
        "manifest.json",
    ),
    (
        "data-forget-empty",
        lambda w: _run(w, w.kb("emptyforget", lambda d: _set(d / "forget.jsonl", ""))),
        "forget set is empty",
    ),
    (
        "data-finetune-empty",
        lambda w: _run(w, w.kb("emptyft", lambda d: _set(d / "finetune.jsonl", ""))),
        "fine-tuning set is empty",
    ),
    (
        "data-ft-retain-empty",
        lambda w: _run(w, w.kb("emptyftr", lambda d: _set(d / "finetune_retain.jsonl", ""))),
        "retain model's fine-tuning set is empty",
    ),
    (
        "data-retain-empty",
        lambda w: _run(
            w, "unlearn.method=gd", w.kb("emptyretain", lambda d: _set(d / "retain.jsonl", ""))
        ),
        "retain set is empty",
    ),
    (
        "data-forget-is-retain",
        lambda w: _run(w, w.kb("same", _copy("retain.jsonl", "forget.jsonl"))),
        "forget and retain sets are the same",
    ),
    (
        "data-bad-json",
        lambda w: _run(w, w.kb("badjson", _first_line("forget.jsonl", "{oops"))),
        "forget.jsonl:1",
    ),
    (
        "data-not-object",
        lambda w: _run(w, w.kb("notobj", _first_line("forget.jsonl", "[1, 2]"))),
        "forget.jsonl:1",
    ),
    (
        "data-missing-field",
        lambda w: _run(
            w, w.kb("nofield", _first_line("forget.jsonl", '{"type": "qa", "question": "q?"}'))
        ),
        "'answer'",
    ),
    (
        "data-unknown-type",
        lambda w: _run(
            w, w.kb("badtype", _first_line("forget.jsonl", '{"type": "essay", "text": "t"}'))
        ),
        "'type'",
    ),
    (
        "data-wrong-field-type",
        lambda w: _run(
            w,
            w.kb(
                "fieldtype",
                _first_line("forget.jsonl", '{"type": "qa", "question": "q?", "answer": 3}'),
            ),
        ),
        "'answer'",
    ),
    (
        "data-unknown-field",
        lambda w: _run(
            w,
            w.kb(
                "unkfield",
                _first_line(
                    "forget.jsonl",
                    '{"type": "qa", "question": "q?", "answer": "a", "colour": "red"}',
                ),
            ),
        ),
        "'colour'",
    ),
    # -- KnowUnDo copies (flat layout)
    (
        "kud-forget-is-retain",
        lambda w: _kud(w, "same", unlearn_train=_kud_rows("retain", 4)),
        "forget and retain sets are the same",
    ),
    ("kud-forget-empty", lambda w: _kud(w, "empty", unlearn_train=[]), "unlearn_train.json"),
    ("kud-missing-list", lambda w: _kud(w, "missing", retention_train=None), "retention.train"),
    ("kud-missing-labels", lambda w: _kud(w, "nolabels", unlearn_train=[{"text": "q"}]), "labels"),
    ("kud-domain", lambda w: [*_kud(w, "ok"), "benchmark.domain=medical"], "benchmark.domain"),
    # -- command lines
    ("cli-unknown-command", lambda w: ["frobnicate"], "frobnicate"),
    ("cli-list-what", lambda w: ["list", "things"], "things"),
    ("cli-report-nothing", lambda w: ["report"], "run_dirs"),
    ("cli-bench-no-methods", lambda w: ["bench", "methods"], "--methods"),
    ("cli-synth-no-out", lambda w: ["data", "synth"], "--out"),
    ("cli-synth-people", lambda w: ["data", "synth", "--out", "x", "--people", "abc"], "--people"),
    ("cli-memory-engine", lambda w: ["bench", "memory", "tiny", "--engine", "tpu"], "--engine"),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_one_line_exit_2(case, world: World, capsys, monkeypatch) -> None:
    name, build, named = case
    argv = build(world)
    if argv[0] == "run":  # a run directory of its own (a case's own run.name comes later)
        argv.insert(1 if len(argv) < 2 or "=" in argv[1] else 2, f"run.name=c-{name}")
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse
        code = exc.code
    err = capsys.readouterr().err.strip()
    assert code == 2, f"exit {code}: {err}"
    assert "Traceback" not in err
    assert len(err.splitlines()) == 1, err
    assert err.startswith("obliviate: error: "), err
    assert named in err, err


def test_a_full_disk_is_one_line(world: World, capsys, monkeypatch) -> None:
    _full_disk(monkeypatch)
    code = main(_run(world, "run.name=fulldisk"))
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1, err
    assert "No space left on device" in err and "config.yaml" in err


def test_the_corpus_is_large_enough() -> None:
    assert len(CASES) + 1 >= 80
    assert len({c[0] for c in CASES}) == len(CASES)


def test_partial_overlap_is_a_note_with_the_count(world: World, capsys) -> None:
    def overlap(d: Path) -> None:
        first = (d / "retain.jsonl").read_text().splitlines()[0]
        with open(d / "forget.jsonl", "a") as fh:
            fh.write(first + "\n")

    from obliviate.checks import preflight
    from obliviate.config import load_config
    from obliviate.run_dir import RunDir

    cfg = load_config(None, _run(world, "run.name=overlap", world.kb("overlap", overlap))[1:])
    preflight(RunDir(cfg))
    err = capsys.readouterr().err
    assert "1 of" in err and "forget records are also retain records" in err


def test_the_python_api_checks_the_data_before_any_model(world: World) -> None:
    """``Run(cfg).run_all()`` (the README's snippet) refuses forget == retain as the CLI does,
    before fine-tuning: no model directory is written."""
    from obliviate.config import load_config
    from obliviate.pipeline import Run

    args = _run(
        world, "run.name=api-same", world.kb("api-same", _copy("retain.jsonl", "forget.jsonl"))
    )
    run = Run(load_config(None, args[1:]))
    with pytest.raises(ObliviateError, match="forget and retain sets are the same"):
        run.run_all()
    assert not (run.dir / "models").exists()
