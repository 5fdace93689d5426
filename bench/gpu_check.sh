#!/usr/bin/env bash
# GPU check of the scale paths (issue 12, item 8). NOT YET RUN ON A GPU: written and checked on a
# CPU-only machine (bash -n, the CPU parts of each command); every engine result it prints is
# what "GPU-verified" in the README's Scale section will rest on.
#
# On a machine with >= 1 CUDA GPU (DeepSpeed needs `pip install deepspeed`), from the repo root:
#   bash bench/gpu_check.sh            # all three runs, about 5-8 minutes on one H100-class GPU
#   PEAK_TFLOPS=989 bash bench/gpu_check.sh   # the GPU's dense bf16 peak, for MFU
# Each run: the quickstart pipeline (synthkb, NPO) on a ~100M-parameter Llama, then every saved
# model reloaded with AutoModelForCausalLM (all weights present, none empty), then tokens/s,
# peak memory and MFU = 6 * params * tokens/s / peak FLOP/s of each training stage.
set -euo pipefail
NGPU=${NGPU:-$(nvidia-smi -L | wc -l)}
PEAK_TFLOPS=${PEAK_TFLOPS:-989}
OUT=${OUT:-runs_gpu_check}
PY=${PYTHON:-python}
mkdir -p "$OUT"
export TQDM_DISABLE=1

# a ~100M Llama with a tokenizer trained on the synthkb text (saved once)
"$PY" - "$OUT/bench_100m" <<'PYEOF'
import sys
from pathlib import Path
from transformers import LlamaConfig, LlamaForCausalLM
from obliviate.bench_memory import BENCH_100M
from obliviate.benchmarks.synthkb import build
from obliviate.models.tiny import train_tokenizer
out = Path(sys.argv[1])
if not (out / "config.json").is_file():
    data = build(people=40, seed=0)
    tok = train_tokenizer(data.tokenizer_texts(), vocab_size=8000)
    cfg = LlamaConfig(**{**BENCH_100M, "vocab_size": len(tok), "bos_token_id": tok.bos_token_id,
                         "eos_token_id": tok.eos_token_id, "pad_token_id": tok.pad_token_id})
    model = LlamaForCausalLM(cfg)
    print(f"bench_100m: {sum(p.numel() for p in model.parameters()) / 1e6:.1f}M parameters")
    model.save_pretrained(out, safe_serialization=True)
    tok.save_pretrained(out)
PYEOF

COMMON=(model.name_or_path="$OUT/bench_100m" run.out_dir="$OUT" finetune.epochs=2
        finetune.batch_size=8 unlearn.epochs=2 unlearn.batch_size=4 eval.max_new_tokens=16
        model.max_length=128)

run() {  # name, accelerate launch args..., --, extra obliviate overrides...
  local name=$1; shift
  local launch=() extra=()
  while [ $# -gt 0 ] && [ "$1" != "--" ]; do launch+=("$1"); shift; done
  [ $# -gt 0 ] && shift
  extra=("$@")
  echo "== $name"
  local t0=$SECONDS
  accelerate launch --num_machines 1 --num_processes "$NGPU" "${launch[@]}" -m obliviate run \
    "${COMMON[@]}" "${extra[@]}" run.name="$name" > "$OUT/$name.log" 2>&1 \
    || { tail -40 "$OUT/$name.log"; exit 1; }
  echo "   $((SECONDS - t0)) s"
  "$PY" - "$OUT/$name" "$PEAK_TFLOPS" "$NGPU" <<'PYEOF'
import json, sys
from pathlib import Path
import torch
from transformers import AutoModelForCausalLM
run, peak, ngpu = Path(sys.argv[1]), float(sys.argv[2]) * 1e12, int(sys.argv[3])
ref = AutoModelForCausalLM.from_pretrained(run.parent / "bench_100m")
n_ref = {k: v.numel() for k, v in ref.state_dict().items()}
for role in ("target", "retain", "unlearned"):
    model = AutoModelForCausalLM.from_pretrained(run / "models" / role)
    sd = model.state_dict()
    empty = [k for k, v in sd.items() if v.numel() == 0]
    wrong = [k for k in n_ref if k not in sd or sd[k].numel() != n_ref[k]]
    finite = all(torch.isfinite(v.float()).all() for v in sd.values())
    status = "OK" if not empty and not wrong and finite else "FAIL"
    print(f"   reload {role}: {status} ({len(sd)} tensors, {len(empty)} empty, {len(wrong)} wrong)")
    if status != "OK":
        sys.exit(1)
params = sum(n_ref.values())
metrics = json.loads((run / "metrics.json").read_text())
for stage, t in metrics["training"].items():
    mfu = 6 * params * t["tokens_per_s"] / (peak * ngpu)
    print(f"   {stage}: {t['tokens_per_s']:.0f} tokens/s, peak {t['peak_memory_mb']:.0f} MiB "
          f"(rank 0), MFU {100 * mfu:.2f}%")
print("   unlearned forget/prob", metrics["models"]["unlearned"].get("forget/prob"))
PYEOF
}

MULTI=(); [ "$NGPU" -gt 1 ] && MULTI=(--multi_gpu)
# 1. DDP (or one GPU), bf16 autocast over fp32 masters, gradient checkpointing
run gpu_bf16_ckpt "${MULTI[@]}" --mixed_precision bf16 -- finetune.mixed_precision=bf16 \
  unlearn.mixed_precision=bf16 finetune.gradient_checkpointing=true \
  unlearn.gradient_checkpointing=true
# 2. DeepSpeed ZeRO-3 (bf16, 16-bit weights gathered on save)
run gpu_zero3 --config_file configs/accelerate/zero3.yaml -- finetune.mixed_precision=bf16 \
  unlearn.mixed_precision=bf16
# 3. FSDP (full state dict on save)
run gpu_fsdp --config_file configs/accelerate/fsdp.yaml -- finetune.mixed_precision=bf16 \
  unlearn.mixed_precision=bf16
echo "gpu_check: all runs finished and every saved model reloaded"
