#!/usr/bin/env bash
# Single-host CI for an xbuild project: build every target the project lists
# ([tool.xbuild] targets), then smoke-run each artifact this Linux host can run:
# natively, under qemu-user (other Linux CPUs) or under wine64 (Windows x86_64).
# macOS artifacts cannot run here; their audit report is their check.
#
# Usage: ci/xbuild-ci.sh [PROJECT_DIR] [-- ARGS FOR THE SMOKE RUN]   (default args: --help)
# Needs: xbuild on PATH (the `xbuild-zig` distribution, pinned as ci/github-actions.yml
# installs it; `pip install xbuild` is an unrelated project), and qemu-user and wine64
# for the smoke runs.
set -euo pipefail

project="."
if [ $# -gt 0 ] && [ "$1" != "--" ]; then project="$1"; shift; fi
[ "${1:-}" = "--" ] && shift
smoke=("$@")
[ ${#smoke[@]} -gt 0 ] || smoke=(--help)

xbuild build "$project"

dist="$project/dist"
status=0
for record in "$dist"/*/xbuild-build.json; do
  folder=$(dirname "$record")
  triple=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["target"])' "$record")
  case "$triple" in
    *-apple-darwin|aarch64-pc-windows-msvc|i686-pc-windows-msvc)
      echo "== $triple: cannot run on this host; see its audit report" ;;
    *)
      echo "== $triple: smoke run"
      if ! xbuild run "$folder" -- "${smoke[@]}"; then
        echo "!! $triple: smoke run failed" >&2
        status=1
      fi ;;
  esac
done
exit $status
