#!/usr/bin/env bash
# Everything lenetlab measures on a GPU, written under one folder (about 10 minutes on one GPU):
#
#   bash scripts/gpu_check.sh [--dry-run] [OUT_DIR]      (default OUT_DIR: outputs/gpu_check/<date>)
#
# Run from anywhere; it works in the repository it belongs to. What it needs:
# - Python: lenetlab's dependencies. When `import lenetlab` fails, it installs them first
#   (pip install torch==2.14.1 torchvision==0.29.1, then pip install .[dev]; that needs the network).
# - MNIST: nothing is downloaded. It reads $LENETLAB_DATA_DIR if set, else data/ at the repository root;
#   either must hold MNIST/raw/ with the four IDX files (copy a data folder beside the code,
#   cp -r /path/to/data data, or export LENETLAB_DATA_DIR=/path/to/data).
#
# Each part runs under its own `timeout`, so one that hangs does not eat the others' time; a part that
# fails or times out is recorded in OUT_DIR/parts.tsv (part, exit status, wall seconds); the rest go on.
# --dry-run runs every part on the CPU with tiny sizes (seconds of training), to check the script.
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DRY_RUN=0
OUT=""
for arg in "$@"; do
    case "$arg" in
        --dry-run) DRY_RUN=1 ;;
        -h | --help) sed -n '2,15p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
        -*) echo "error: unknown option $arg (expected --dry-run or an output folder)" >&2; exit 2 ;;
        *) OUT="$arg" ;;
    esac
done
OUT="${OUT:-$ROOT/outputs/gpu_check/$(date +%Y-%m-%d_%H-%M-%S)}"
mkdir -p "$OUT" && OUT="$(cd "$OUT" && pwd)" || exit 2
export LENETLAB_DATA_DIR="${LENETLAB_DATA_DIR:-$ROOT/data}"
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}" MPLBACKEND=Agg
PY="${PYTHON:-python3}"
[ -x "$ROOT/.venv/bin/python" ] && [ -z "${PYTHON:-}" ] && PY="$ROOT/.venv/bin/python"
cd "$ROOT" || exit 2

if [ ! -f "$LENETLAB_DATA_DIR/MNIST/raw/train-images-idx3-ubyte" ]; then
    echo "error: no MNIST in $LENETLAB_DATA_DIR/MNIST/raw (set LENETLAB_DATA_DIR, or copy a data folder to $ROOT/data)" >&2
    exit 2
fi
if ! "$PY" -c "import lenetlab.train" 2>/dev/null; then
    timeout 600 "$PY" -m pip install -q torch==2.14.1 torchvision==0.29.1 && timeout 600 "$PY" -m pip install -q "$ROOT[dev]" \
        || { echo "error: installing lenetlab's dependencies failed" >&2; exit 1; }
fi

if [ "$DRY_RUN" = 1 ]; then
    DEVICE=cpu ACCELERATOR=cpu SLOWER=6  # a CPU, maybe shared with other work: longer limits
    # tiny sizes: a few batches per epoch, a tiny network for the profiles (quick to compile)
    BENCH=(--rounds 1 --limit-batches 3 --val-size 200)
    SPEEDRUN=(--rounds 1 --limit-batches 4 --val-size 200)
    OPTIMIZERS=(--steps 2 --rounds 1)
    PROFILE=(--steps 3 --warmup 2 model=mlp "model.hidden=[8]" trainer.limit_train_batches=6 data.val_size=200)
    STUDY=(trainer.max_epochs=1 trainer.limit_train_batches=3 data.val_size=200)
else
    DEVICE=cuda ACCELERATOR=gpu SLOWER=1
    BENCH=(--rounds 2 --limit-batches 200)
    SPEEDRUN=(--rounds 3)
    OPTIMIZERS=(--steps 100 --rounds 2)
    PROFILE=(--steps 50 --warmup 100)
    STUDY=()
fi

# what the numbers depend on
versions() {
    if command -v nvidia-smi > /dev/null; then nvidia-smi; else echo "nvidia-smi: not found (no NVIDIA driver)"; fi
    lscpu | grep -E 'Model name|^CPU\(s\)'
    # torch imported for its CUDA and cuDNN; the others' versions read from their installed metadata
    "$PY" -c "import sys, torch
from importlib.metadata import version
print('python', sys.version.split()[0], '| torch', torch.__version__, '| CUDA', torch.version.cuda,
      '| cuDNN', torch.backends.cudnn.version(), '| torchvision', version('torchvision'), '| lightning', version('lightning'))
print('GPU', torch.cuda.get_device_name() if torch.cuda.is_available() else 'none')"
    git -C "$ROOT" log -1 --format='lenetlab commit %H %cd' 2> /dev/null || true
}
export -f versions
export PY ROOT

printf 'part\texit_status\twall_s\n' > "$OUT/parts.tsv"
# part NAME LIMIT_S COMMAND...: COMMAND under `timeout`, its output in OUT/NAME.log, its exit status and
# wall time (124: timed out) a line of OUT/parts.tsv
part() {
    local name="$1" limit=$(($2 * SLOWER)) start status
    shift 2
    start=$(date +%s%N)
    echo "== $name (at most $limit s): $*" | tee "$OUT/$name.log"
    timeout --kill-after=10 "$limit" "$@" >> "$OUT/$name.log" 2>&1
    status=$?
    awk -v name="$name" -v status="$status" -v ns="$(($(date +%s%N) - start))" \
        'BEGIN { printf "%s\t%s\t%.1f\n", name, status, ns / 1e9 }' | tee -a "$OUT/parts.tsv"
}

# at most 30 + 60 + 50 + 120 + 100 + 20 + 100 + 120 s = 10 min in all (the limits; the parts usually take less)
part versions 30 bash -c versions
# the tests that run only where CUDA is (on the CPU: skipped, with their reason)
part gpu_tests 60 "$PY" -m pytest -q -rs -p no:cacheprovider -n 0 -m "slow or not slow" \
    tests/test_train.py::test_gpu_run_trains_on_the_device_and_records_its_memory \
    tests/test_augment.py::test_distortions_run_on_the_gpu
# 50 steady training steps of the default run, eager and compiled with CUDA graphs; both epoch times
part profile_eager 50 "$PY" scripts/profile_step.py "$OUT" --compile false "${PROFILE[@]}" \
    "trainer.accelerator=$ACCELERATOR"
part profile_reduce-overhead 120 "$PY" scripts/profile_step.py "$OUT" --compile reduce-overhead "${PROFILE[@]}" \
    "trainer.accelerator=$ACCELERATOR"
# lenetlab beside the plain loop, and the tiny network's pair (what `lenetlab.reproduce gpu_results=OUT` reads)
part benchmark 100 "$PY" scripts/benchmark.py --device "$DEVICE" --tiny "${BENCH[@]}" --json "$OUT/benchmark_$DEVICE.json"
# SGD and Adam: the for-loop, foreach and fused implementations (what optimizer.fused / foreach should default to)
part optimizers 20 "$PY" scripts/benchmark_optimizers.py --device "$DEVICE" "${OPTIMIZERS[@]}"
# the 20-epoch learning-rate study, its four jobs side by side (joblib); its wall time is in parts.tsv
part learning_rate 100 "$PY" -m lenetlab.train -m experiment=learning_rate hydra/launcher=joblib \
    "trainer.accelerator=$ACCELERATOR" callbacks.progress_bar=null "hydra.sweep.dir=$OUT/learning_rate" "${STUDY[@]}"
# experiment=speedrun against the default's epoch and the plain loop of the same recipe, 3 seeds (docs/speedrun.md)
part speedrun 120 "$PY" scripts/benchmark.py --speedrun --device "$DEVICE" "${SPEEDRUN[@]}" --json "$OUT/speedrun_$DEVICE.json"

echo "results: $OUT"
