#!/usr/bin/env bash
# A training burst of fixed length on a lent GPU machine (or any machine): fine-tunes the kit's
# model (tools/burst_kit.py packs burst/) on the kit's photos for MINUTES, the cosine schedule
# spanning exactly that time, with the crops made by all but two of the machine's cores; then
# exports the result. Writes OUT/run/ (checkpoint.pt, log.jsonl, split.json) and OUT/model.pt.
#
#   bash tools/train_burst.sh OUT MINUTES [more train options, which override these]
#
# The recipe is run Z6's (docs/training.md) with 4x its batch and 2x its learning rate.
set -euo pipefail
out=${1:?usage: train_burst.sh OUT MINUTES [train options]}
minutes=${2:?usage: train_burst.sh OUT MINUTES [train options]}
shift 2
kit=${BURST_KIT:-burst}
python=${PYTHON:-python3}
if [ ! -d "$kit/data" ] || [ ! -f "$kit/init.pt" ]; then
    echo "train_burst: error: no kit in $kit/ (make it with tools/burst_kit.py)" >&2
    exit 2
fi
if ! "$python" -c "import platformdirs" 2>/dev/null; then
    "$python" -m pip install -q --no-index --no-deps --target /tmp/burst-site "$kit"/wheels/*.whl
    export PYTHONPATH=/tmp/burst-site${PYTHONPATH:+:$PYTHONPATH}
fi
workers=$(( $(nproc) > 3 ? $(nproc) - 2 : 1 ))
export OMP_WAIT_POLICY=PASSIVE PYTHONUNBUFFERED=1
mkdir -p "$out"
"$python" main.py train --data "$kit/data" --out "$out/run" --init-from "$kit/init.pt" \
    --device auto --workers "$workers" --minutes "$minutes" --threads 2 \
    --refine-sketch --sketch-style mix --sketch-prefill \
    --steps 10000000 --batch 32 --crop 192 --cnum 24 --lr 3e-4 --lr-final 0.05 --warmup 100 \
    --mse-weight 4 --ssim-weight 0.3 --edge-weight 1.5 --valid-weight 0 --output-init 0.1 \
    --mask-scale 0.75 2.0 --gan-start 100000000 --validate-minutes 0 --checkpoint-minutes 2 \
    --log-every 100 --seed 201 "$@"
"$python" main.py train --data "$kit/data" --out "$out/run" --export "$out/model.pt" --latest
