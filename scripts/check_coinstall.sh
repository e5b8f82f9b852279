#!/usr/bin/env bash
# Does `pip install "mmreward[serve,rl]" FRAMEWORK` resolve? pip's own resolver, against the
# registry, --dry-run (nothing is installed), for each RL framework release the README names:
#
#   bash scripts/check_coinstall.sh                 # verl 0.9.1, OpenRLHF 0.11.2, vLLM 0.33.0
#   bash scripts/check_coinstall.sh "trl==1.16.0"   # others
#
# Prints the versions each resolution picks (transformers, torch, ...). Runs with .venv's pip;
# --ignore-installed resolves as a fresh environment would. OpenRLHF requires deepspeed and
# flash-attn, published as sources whose metadata step imports torch: as OpenRLHF's own install
# instructions do, torch must be installed first, so that check builds without isolation
# against .venv's torch (FLASH_ATTENTION_SKIP_CUDA_BUILD / DS_BUILD_OPS=0: metadata only).
set -euo pipefail
cd "$(dirname "$0")/.."
frameworks=("$@")
[ ${#frameworks[@]} -gt 0 ] || frameworks=("verl==0.9.1" "openrlhf==0.11.2" "vllm==0.33.0")
report=$(mktemp -d)
trap 'rm -rf "$report"' EXIT

resolve() {  # SPEC DIR: one resolution; its line (and pip's reason when it fails) in DIR/out
  local spec=$1 dir=$2 extra=() start=$SECONDS
  case "$spec" in openrlhf*) extra=(--no-build-isolation) ;; esac
  if FLASH_ATTENTION_SKIP_CUDA_BUILD=TRUE DS_BUILD_OPS=0 .venv/bin/pip install --dry-run --ignore-installed -q \
      "${extra[@]}" --report "$dir/r.json" ".[serve,rl]" "$spec" >"$dir/log" 2>&1; then
    .venv/bin/python - "$dir/r.json" "$spec" "$((SECONDS - start))" >"$dir/out" <<'EOF'
import json, sys
picked = {i["metadata"]["name"].lower(): i["metadata"]["version"] for i in json.load(open(sys.argv[1]))["install"]}
shown = ", ".join(f"{k} {picked[k]}" for k in ("transformers", "torch", "trl", "ray", "vllm", "deepspeed") if k in picked)
print(f"mmreward[serve,rl] + {sys.argv[2]}: resolves ({shown}; {sys.argv[3]} s)")
EOF
  else
    { echo "mmreward[serve,rl] + $spec: DOES NOT RESOLVE"; grep -v "^WARNING: Location" "$dir/log" | tail -20; } >"$dir/out"
    return 1
  fi
}

# the resolutions run at once: each mostly waits on the registry (~3 min each, one after another)
pids=()
for i in "${!frameworks[@]}"; do
  mkdir "$report/$i"
  resolve "${frameworks[$i]}" "$report/$i" &
  pids+=($!)
done
status=0
for i in "${!frameworks[@]}"; do
  wait "${pids[$i]}" || status=1
  cat "$report/$i/out"
done
exit $status
