#!/usr/bin/env bash
# The prepared GPU check: one command that proves the CUDA path on a lent device (docs/gpu.md,
# "The prepared check"). The stages, their time limits and the files they write are described in
# tools/gpu_check.py; this wrapper only picks the Python and runs it from the repository root.
#
#   tools/gpu_check.sh --prepare        # here, with network: .whl/ (wheels + source stamp)
#   tools/gpu_check.sh [--budget 390]   # on the device: writes under $OUT (else runs/gpu-check-*)
#   tools/gpu_check.sh --dry-run        # anywhere, no device work (what CI runs)
#
# $PYTHON overrides the interpreter (default: python3, else python). Exit status: 0 when every
# stage finished cleanly and no test failed, 1 otherwise, 2 for bad arguments.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
py=${PYTHON:-$(command -v python3 || command -v python || true)}
if [ -z "$py" ]; then
    echo "gpu_check.sh: no python3 or python on PATH (set PYTHON)" >&2
    exit 2
fi
export PYTHONUNBUFFERED=1 PYTHONIOENCODING=utf-8
exec "$py" tools/gpu_check.py "$@"
