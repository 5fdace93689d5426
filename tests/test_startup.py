"""Lean start-up (issue 18 item 4): what each command path imports, checked in a fresh process.

``obliviate --help`` and ``obliviate list ...`` must not import torch or transformers;
``obliviate config --keys`` reads every section (torch: the components' modules) but not
transformers; importing the pipeline and loading a config must not import the optional parts
(peft, datasets, nltk, scikit-learn, scipy.stats, matplotlib, lm-eval, vLLM, openai,
sentence-transformers, tensorboard), which load only where they are used. Behavioural, not timed:
each case prints the heavy modules found in ``sys.modules`` after the code ran.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

QUICKSTART = Path(__file__).resolve().parents[1] / "configs" / "quickstart.yaml"

HEAVY = ("torch", "transformers")
OPTIONAL = ("peft", "datasets", "nltk", "sklearn", "scipy.stats", "matplotlib", "lm_eval",
            "vllm", "openai", "sentence_transformers", "tensorboard")  # fmt: skip


def loaded_after(code: str, watch: tuple[str, ...]) -> list[str]:
    """The modules of ``watch`` in ``sys.modules`` after ``code`` ran in a fresh interpreter."""
    probe = (
        "import contextlib, io, json, sys\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        + "".join(f"    {line}\n" for line in code.splitlines())
        + f"print(json.dumps([m for m in {list(watch)!r} if m in sys.modules]))\n"
    )
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          timeout=120, env={**os.environ, "OMP_NUM_THREADS": "1"})  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _cli(*argv: str) -> str:
    return (
        "from obliviate.cli import main\n"
        f"try:\n    rc = main({list(argv)!r})\nexcept SystemExit as exc:\n    rc = exc.code\n"
        "assert rc == 0, rc"
    )


@pytest.mark.parametrize(
    "argv", [("list", "methods"), ("list", "benchmarks"), ("list", "metrics"), ("--help",)]
)
def test_listing_and_help_import_neither_torch_nor_transformers(argv):
    assert loaded_after(_cli(*argv), (*HEAVY, "tokenizers", *OPTIONAL)) == []


def test_config_keys_imports_no_transformers():
    assert loaded_after(_cli("config", "--keys"), ("transformers", *OPTIONAL)) == []


def test_pipeline_and_config_load_import_no_optional_part():
    code = (
        "import obliviate.cli\n"
        "from obliviate import pipeline, stages, run_dir, run_models, checks\n"
        "from obliviate.config import load_config\n"
        f"load_config({str(QUICKSTART)!r})"
    )
    assert loaded_after(code, OPTIONAL) == []


def test_the_schema_is_complete_without_importing_components_first():
    """A fresh process that imports only ``obliviate.config`` still sees every section, method
    and check: the components load on first use of the schema."""
    code = (
        "from obliviate.config import TrainConfig, load_config\n"
        "from obliviate.errors import ObliviateError\n"
        "cfg = load_config(None, ['unlearn.params.beta=0.2'])\n"
        "assert cfg.unlearn.params == {'beta': 0.2} and TrainConfig.__name__ == 'TrainConfig'\n"
        "try:\n    load_config(None, ['unlearn.method=npx'])\n"
        "except ObliviateError as exc:\n    assert 'npo' in str(exc), exc\n"
        "else:\n    raise AssertionError('unknown method accepted')\n"
        "import obliviate\n"
        "assert 'npo' in obliviate.methods.METHODS"
    )
    assert loaded_after(code, ()) == []


def test_probe_sees_an_eager_import():
    """The probe itself can fail: importing the methods registry loads torch."""
    assert loaded_after("import obliviate.methods", HEAVY) == ["torch"]
