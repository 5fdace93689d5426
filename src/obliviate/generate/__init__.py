"""Data generation with LLMs (SPEC 5): backends, caching, resumable pipelines.

- :mod:`.backend`: the chat interface every backend implements, sampling parameters;
- :mod:`.hf` (local transformers model), :mod:`.vllm_backend` (vLLM, optional),
  :mod:`.http` (any OpenAI-compatible endpoint), :mod:`.cache` (content-hash disk cache);
- :mod:`.resume`: append-only progress, so an interrupted generation resumes;
- :mod:`.relearn` (ReLearn augmentation), :mod:`.meow` (MEOW inverted facts, MEMO selection),
  :mod:`.rwku` (RWKU forget corpora), :mod:`.offline` (the same three for synthkb, from templates);
- :mod:`.store`: the run directory side (``generated/``), used by the pipeline, the CLI commands
  ``augment``/``invert``/``corpus`` and the ``relearn*``/``meow*`` methods.
"""
