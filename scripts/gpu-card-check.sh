#!/usr/bin/env bash
# The GPU checks of issue 32, item 4, as one short run on a card (a lent device machine has
# ~15 minutes in all, so nothing here builds: it runs a release binary built beforehand).
#
# Before (on the build machine, from the repository root):
#   cargo build --release && mkdir -p .gpu-card && strip -o .gpu-card/zgnode target/release/zgnode
#   echo /.gpu-card/ >> .git/info/exclude
# Then run it there with `.gpu-card` carried: bash scripts/gpu-card-check.sh
#
# It writes under $OUT (or /tmp/gpu-card): card.txt (name, driver, memory, clocks), then one log a
# step. `zgnode bench gpu` runs the self-checks first (every erasure kernel against
# reed-solomon-simd and the CPU twin, the matrix kernels and a small Llama against the CPU) and
# fails on any difference, so a log that ends in figures is a card that passed them.
set -uo pipefail
OUT="${OUT:-/tmp/gpu-card}"
BIN="${ZGNODE_BIN:-.gpu-card/zgnode}"
mkdir -p "$OUT"
if [ ! -x "$BIN" ]; then
  echo "no binary at $BIN: build and carry it first (see the top of this script)" >&2
  exit 2
fi
# NVRTC: CUDA's own, else the one in the image's Python (nvidia-cuda-nvrtc wheel).
if ! ldconfig -p | grep -q libnvrtc.so; then
  nvrtc="$(find / -name 'libnvrtc.so*' -path '*nvidia*' 2>/dev/null | head -1)"
  [ -n "$nvrtc" ] && export LD_LIBRARY_PATH="$(dirname "$nvrtc")${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
fi
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm,clocks.max.memory,pcie.link.gen.max,pcie.link.width.max --format=csv | tee "$OUT/card.txt"
nproc | sed 's/^/cpu cores: /' | tee -a "$OUT/card.txt"

step() {
  local name="$1" limit="$2"
  shift 2
  echo "== $name: $*" | tee "$OUT/$name.log"
  local started=$SECONDS
  timeout "$limit" "$@" >>"$OUT/$name.log" 2>&1
  local rc=$?
  echo "== $name: exit $rc after $((SECONDS - started)) s" | tee -a "$OUT/$name.log"
  tail -n 40 "$OUT/$name.log"
}
# int8 models and erasure at 256 MiB (storage, DA, the largest DA square), LLM at 4 layers.
step bench-256 240 "$BIN" bench gpu --erasure-mib 256
# Erasure alone at 1 GiB of originals.
step bench-1024 150 "$BIN" bench gpu --batch 0 --llm-layers 0 --erasure-mib 1024
# The LLM backend with all 22 of TinyLlama's layers.
step bench-llm 120 "$BIN" bench gpu --batch 0 --erasure-mib 0 --llm-layers 22 --llm-tokens 16
