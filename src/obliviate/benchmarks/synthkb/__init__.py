"""synthkb: a seeded, offline benchmark about fictitious people (TOFU/RWKU-shaped).

:func:`generate_world` invents people with about ten attributes each plus a few world facts;
:func:`build` turns them into forget/retain/neighbour/world QA, RWKU-style probes and MIA texts;
:func:`write_jsonl` / :func:`load_dir` are its directory form (``obliviate data synth``,
``benchmark.path``), world included, so a local copy feeds the offline generator
(:mod:`.offline`: ReLearn augmentation, MEOW inversions, RWKU corpora without an LLM) exactly as
the in-memory benchmark. Every draw goes through a ``random.Random`` seeded from ``seed`` and a
fixed tag (never the global RNG, never ``hash()``), so one seed gives the same benchmark in every
process.

Modules, in data-flow order: :mod:`.vocabulary` (word pools), :mod:`.draws` (seeded streams and
value makers), :mod:`.world` (people, cities, organisations), :mod:`.templates` (wordings),
:mod:`.facts` (facts, wrong values, QA items), :mod:`.probes` (RWKU probes, biographies),
:mod:`.splits` (forget targets, neighbours, :func:`build`), :mod:`.files` (the directory),
:mod:`.loader` (the ``benchmark.*`` keys and the registered loader),
:mod:`.offline` and :mod:`.offline_wordings` (the offline generator).
"""

from __future__ import annotations

from .facts import NUM_PERTURBED
from .files import WORLD_FILE, load_dir, read_jsonl, read_world, write_jsonl
from .loader import SynthKBSettings
from .probes import ADVERSARIAL_TYPES
from .splits import RETAIN_EVAL_CAP, build
from .world import (
    ATTRIBUTES,
    MAX_PEOPLE,
    WORLD_CITIES,
    WORLD_ORGS,
    Organisation,
    Person,
    World,
    generate_world,
    world_from_dict,
    world_to_dict,
)

__all__ = [
    "ADVERSARIAL_TYPES",
    "ATTRIBUTES",
    "MAX_PEOPLE",
    "NUM_PERTURBED",
    "RETAIN_EVAL_CAP",
    "SynthKBSettings",
    "WORLD_CITIES",
    "WORLD_FILE",
    "WORLD_ORGS",
    "Organisation",
    "Person",
    "World",
    "build",
    "generate_world",
    "load_dir",
    "read_jsonl",
    "read_world",
    "world_from_dict",
    "world_to_dict",
    "write_jsonl",
]
