#!/usr/bin/env bash
# Run the test suite (or the paths given) against another transformers release, without
# touching .venv: the release and its own dependencies go into a separate folder that is
# put first on PYTHONPATH.
#
#   bash scripts/check_transformers.sh 5.0.0                      # the whole suite
#   bash scripts/check_transformers.sh 5.0.0 tests/mmreward/models  # a part of it
#
# The lowest release the suite passes on is stated in README.md ("Requirements").
set -euo pipefail
cd "$(dirname "$0")/.."
version=${1:?usage: check_transformers.sh VERSION [PYTEST ARGS...]}
shift
target=${TRANSFORMERS_CHECK_DIR:-/tmp/mmreward-transformers-$version}
# shellcheck disable=SC1091
. .venv/bin/activate
if [ ! -f "$target/.done" ]; then
  rm -rf "$target"
  # only transformers and what it needs itself (tokenizers, huggingface_hub, ...); torch stays the venv's
  pip install -q --target "$target" "transformers==$version" tokenizers huggingface_hub 2>&1 | grep -v "^WARNING: Location" || true
  rm -rf "$target"/numpy* "$target"/torch* "$target"/bin
  touch "$target/.done"
fi
export PYTHONPATH="$target:$PWD" HF_HUB_OFFLINE=1 MUJOCO_GL="${MUJOCO_GL:-egl}"
python -c "import transformers; print('transformers', transformers.__version__, 'from', transformers.__file__)"
python -m pytest -q -p no:cacheprovider "$@"
