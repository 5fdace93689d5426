"""Robustness attacks: does the forgotten knowledge come back? (issue 15)

One module per kind, each ``run(session) -> {"clean", "variants", "settings"}``:
:mod:`.relearn` (a few fine-tuning steps, held-out forget items), :mod:`.quantize` (RTN per
group, bitsandbytes on CUDA), :mod:`.prompt` (rewritten prompts, same answers), :mod:`.latent`
(logit lens per layer). :mod:`.session` evaluates the forget side of the run's suite,
:mod:`.score` turns values into recovery, :mod:`.runner` writes ``attacks/<kind>/metrics.json``;
:mod:`.settings` holds the ``attack`` config section and ``eval.attacks``.
"""
