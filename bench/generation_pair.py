"""Generation time alone, ``model.generate`` per batch of 32 (the loop before issue 18) against
:func:`obliviate.generation.decode.decode`, on a quickstart run's three models and every eval
set's questions, in interleaved order (hf, lean, lean, hf), one thread; also checks the tokens.

    OMP_NUM_THREADS=1 .venv/bin/python bench/generation_pair.py runs/synthkb_npo 32
    OMP_NUM_THREADS=1 .venv/bin/python bench/generation_pair.py runs/synthkb_npo 200
"""

from __future__ import annotations

import glob
import json
import sys
import time
from pathlib import Path

import torch

from obliviate.formatting import Formatter, collate_left
from obliviate.generation.decode import decode
from obliviate.generation.hf import stop_token_ids
from obliviate.models.loading import load_pretrained


def main(run: str, new: int) -> None:
    torch.set_num_threads(1)
    total = {"hf": 0.0, "lean": 0.0}
    for role in ("target", "retain", "unlearned"):
        model, tok = load_pretrained(f"{run}/models/{role}")
        model.eval()
        fmt = Formatter(tok, "auto", 128)
        files = sorted(glob.glob(f"{run}/eval/{role}/*.jsonl"))
        lines = [line for f in files for line in Path(f).read_text().splitlines() if line]
        questions = [json.loads(line)["question"] for line in lines]
        prompts = sorted((fmt.prompt_ids(q) for q in questions), key=len)
        stops = stop_token_ids(model, tok, fmt.stop_ids)
        outs: dict[str, list[list[int]]] = {}
        for name in ("hf", "lean", "lean", "hf"):
            got: list[list[int]] = []
            t0 = time.perf_counter()
            with torch.no_grad():
                for s in range(0, len(prompts), 32):
                    b = collate_left(prompts[s : s + 32], tok.pad_token_id)
                    if name == "hf":
                        ids = model.generate(
                            **b,
                            max_new_tokens=new,
                            do_sample=False,
                            eos_token_id=stops,
                            pad_token_id=tok.pad_token_id,
                        )
                        for row in ids[:, b["input_ids"].shape[1] :].tolist():
                            end = next((j + 1 for j, t in enumerate(row) if t in stops), len(row))
                            got.append(row[:end])
                    else:
                        got += decode(model, b["input_ids"], b["attention_mask"], new, stops)
            total[name] += time.perf_counter() - t0
            outs[name] = got
        assert outs["hf"] == outs["lean"], f"{role}: greedy tokens differ"
    half = {k: round(v / 2, 2) for k, v in total.items()}
    print(f"{new} new tokens: seconds per pass {half}, lean/hf {total['lean'] / total['hf']:.2f}")


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 32)
