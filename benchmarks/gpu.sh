#!/usr/bin/env bash
# GPU checks and timings in one go, for a lent CUDA machine (see benchmarks/README.md):
#   bash benchmarks/gpu.sh [steps...]   steps: tests tput point day ablation texas
#   (default: tests tput point)
# `texas` is the Texas-year chain on the sample (its generation, on the CPU, comes first and is
# timed apart as the download stage), one GPU worker, stage by stage as in the scale benchmark.
# Uses the machine's own python3 with torch; writes logs and JSON under ${OUT:-benchmarks/results/gpu}.
set -uo pipefail
out=${OUT:-benchmarks/results/gpu}
mkdir -p "$out"
export PYTHONPATH=$PWD PYTHONUNBUFFERED=1
py=${PYTHON:-python3}
steps=${*:-tests tput point}
nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.sm --format=csv,noheader
$py -c "import torch; print('torch', torch.__version__, torch.cuda.get_device_name())"
for step in $steps; do
  echo "=== $step"
  case $step in
    tests) $py -m pytest -q -m gpu -p no:cacheprovider tests/stimpute/test_gpu.py 2>&1 | tee "$out/tests.log" ;;
    tput)  # the default model eager on one tile and a 288 x 288 region, then torch.compile'd
      t() { $py -m stimpute.bench.throughput --device cuda --repeats 3 "$@" | tail -1; }
      t --size 36 --out "$out/throughput-36.json"
      t --size 288 --out "$out/throughput-288.json"
      t --size 288 --compile --out "$out/throughput-288-compiled.json"
      # fewer tokens per pixel-day: tiles of 75 (4 x 4 on 288, 1.18 in space, not 1.27) with as
      # many tokens a batch, and 6 time windows on the year (1.18 in time, not 1.38)
      t --size 288 --compile --tile 76 --batch 12 --out "$out/throughput-288-compiled-tile76.json"
      t --size 288 --compile --tile 76 --batch 12 --time-overlap 12 \
        --out "$out/throughput-288-compiled-tile76-6windows.json" ;;
    point|day|block)
      $py -m stimpute.bench --dataset twin --protocol "$step" --models st_transformer --budget full \
        --time-budget "${TRAIN_S:-200}" --no-throughput --out "$out/twin-$step.json" 2>&1 | tee "$out/twin-$step.log" | grep -v "^[0-9:]* step" ;;
    ablation)  # issue 25's twin table: the pipeline's network on both families, day protocol, by
      # steps (STEPS, default 600), one process a seed and candidate side by side on the one GPU;
      # CANDIDATE (JSON settings) adds a second network per seed; the forests run on the CPU
      # elsewhere (no GPU in them); every run's rows land in $out/ablation.rows.jsonl
      work=$(mktemp -d)
      run() {  # seed tag [json]
        local hp=${3:-}; [ -n "$hp" ] || hp='{}'
        OMP_NUM_THREADS=2 timeout "${ABLATION_S:-480}" $py benchmarks/ablation.py --protocols day \
          --seeds "$1" --steps "${STEPS:-600}" --variants "+rain +smooth 9 km" --baselines "" \
          --hparams "$hp" --out "$work/$2-$1" > "$work/$2-$1.log" 2>&1
      }
      for s in ${SEEDS:-0 1 2 3 4}; do
        run "$s" default &
        [ -n "${CANDIDATE:-}" ] && run "$s" candidate "$CANDIDATE" &
      done
      wait
      $py -c 'import json, pathlib, sys  # the rows of every run, tagged with it
for f in sorted(pathlib.Path(sys.argv[1]).glob("*.json")):
    for r in json.loads(f.read_text())["rows"]: print(json.dumps({"run": f.stem, **r}))' \
        "$work" > "$out/ablation.rows.jsonl"
      tail -n 3 "$work"/*.log > "$out/ablation.log"; cat "$out/ablation.log" ;;
    texas)
      $py benchmarks/scale.py --regions texas --workers 1 --data "${DATA:-$out/data}" --out "$out/scale-texas" ;;
    *) echo "unknown step $step"; exit 2 ;;
  esac
done
