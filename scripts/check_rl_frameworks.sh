#!/usr/bin/env bash
# mmreward inside an RL framework's own environment, installed normally (pip resolves the
# framework's pins: transformers 5.10.4 for verl 0.9.1, 5.15.0 for OpenRLHF 0.11.2), then the
# framework's own code drives one in-process model from many workers at once
# (tests/mmreward/integrations/test_concurrent_rewards.py: every reward equal to the row scored
# alone within 1e-6, and to the service's):
#
#   bash scripts/check_rl_frameworks.sh verl       # venv .venv-verl (or $RL_CHECK_DIR)
#   bash scripts/check_rl_frameworks.sh openrlhf   # venv .venv-openrlhf
#
# Not part of .ci/run: each environment is a full install (~7 GB, 5-10 min on 2 cores); CI checks
# that both resolve (scripts/check_coinstall.sh) and runs the same tests beside the newest and the
# lowest transformers.
set -euo pipefail
cd "$(dirname "$0")/.."
framework=${1:?usage: check_rl_frameworks.sh verl|openrlhf}
case "$framework" in
  verl) spec="verl==0.9.1" ;;
  openrlhf) spec="openrlhf==0.11.2" ;;
  *) echo "check_rl_frameworks.sh: unknown framework '$framework' (verl or openrlhf)" >&2; exit 2 ;;
esac
venv=${RL_CHECK_DIR:-.venv-$framework}
if [ ! -f "$venv/.done" ]; then
  rm -rf "$venv"
  python3 -m venv "$venv"
  if [ "$framework" = openrlhf ]; then
    # deepspeed and flash-attn are sources whose build imports torch: torch first, as OpenRLHF's
    # instructions say; metadata and pure-Python parts only (no CUDA build on a CPU machine)
    "$venv/bin/pip" install -q torch torchvision setuptools wheel packaging ninja
    DS_BUILD_OPS=0 FLASH_ATTENTION_SKIP_CUDA_BUILD=TRUE \
      "$venv/bin/pip" install -q --no-build-isolation -e ".[serve,rl,dev]" "$spec"
  else
    "$venv/bin/pip" install -q -e ".[serve,rl,dev]" "$spec"
  fi
  touch "$venv/.done"
fi
# shellcheck disable=SC1091
. "$venv/bin/activate"
export PYTHONPATH="$PWD" HF_HUB_OFFLINE=1
python -c "import importlib.metadata as m; print(', '.join(f'{p} {m.version(p)}' for p in ('$framework', 'transformers', 'tokenizers', 'torch', 'trl', 'ray')))"
python -m pytest -q -p no:cacheprovider tests/mmreward/integrations/test_concurrent_rewards.py \
  tests/mmreward/scoring/test_batcher.py tests/mmreward/integrations/test_verl_reward.py
