"""The small synthkb world end-to-end tests run on: 8 people (2 held out), the nano model."""

SMALL_WORLD = [
    "benchmark.people=8",
    "benchmark.holdout_people=2",
    "model.tiny_preset=nano",
    "model.tokenizer_vocab=400",
    "finetune.epochs=4",
]
