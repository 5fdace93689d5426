"""Data generation with LLMs (SPEC 5): what is generated and where it is stored.

The backends (local transformers, vLLM, any OpenAI-compatible endpoint, the disk cache) are
:mod:`obliviate.generation`, shared with evaluation and AltPO. Here:

- :mod:`.resume`: append-only progress, so an interrupted generation resumes;
- :mod:`.relearn` (ReLearn augmentation), :mod:`.meow` (MEOW inverted facts, MEMO selection),
  :mod:`.rwku` (RWKU forget corpora); synthkb's offline counterparts from templates are
  :mod:`obliviate.benchmarks.synthkb.offline`;
- :mod:`.store`: the run directory side (``generated/``), used by the pipeline, the CLI commands
  ``augment``/``invert``/``corpus`` and the ``relearn*``/``meow*`` methods.
"""
