#!/bin/bash
# Resume after kill: the default (quickstart) target fine-tune, checkpoint every 10 steps.
set -e
cd "$(dirname "$0")/.."
export PYTHONPATH=$PWD/src OMP_NUM_THREADS=1 TQDM_DISABLE=1 HF_HUB_OFFLINE=1
PY=${PY:-python}
OUT=${OUT:-/tmp/resume_bench}; rm -rf $OUT
ARGS="finetune finetune.retain_model=false finetune.checkpoint_every=10 run.out_dir=$OUT"
t0=$(date +%s.%N); $PY -m obliviate $ARGS run.name=full > $OUT.full.log 2>&1; t1=$(date +%s.%N)
echo "uninterrupted: $(echo "$t1 - $t0" | bc) s"; grep "finetune target" $OUT.full.log | tail -1
OBLIVIATE_CRASH_AT=step@${KILL_AT:-20}:stop $PY -m obliviate $ARGS run.name=cut > $OUT.cut.log 2>&1 &
PID=$!
while [ "$(awk '{print $3}' /proc/$PID/stat 2>/dev/null)" != "T" ]; do sleep 0.2; done
t2=$(date +%s.%N); kill -9 $PID; wait $PID || true
echo "killed at step ${KILL_AT:-20} after $(echo "$t2 - $t1" | bc) s"
t3=$(date +%s.%N); $PY -m obliviate $ARGS run.name=cut > $OUT.resume.log 2>&1; t4=$(date +%s.%N)
echo "rerun (resumed): $(echo "$t4 - $t3" | bc) s"; grep -E "resuming|finetune target" $OUT.resume.log | tail -2
OUT=$OUT $PY - <<'PY'
import os, torch
from safetensors.torch import load_file
a = load_file(os.environ["OUT"] + "/full/models/target/model.safetensors")
b = load_file(os.environ["OUT"] + "/cut/models/target/model.safetensors")
print("bit-identical:", a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a), len(a), "tensors")
PY
