#!/usr/bin/env bash
# Decode rate and speed on the real photos in ../shared/qr-photos, in one run on this machine:
# plain rqrr, rxing, the kiosk pipeline (cargo bench), zxing-cpp and zbarimg (for comparison).
set -euo pipefail
cd "$(dirname "$0")/.."
photos=${1:-../shared/qr-photos}
command -v zbarimg >/dev/null || echo "note: zbarimg missing (apt-get install zbar-tools)" >&2
python3 -c "import zxingcpp, PIL" 2>/dev/null || echo "note: zxing-cpp missing (pip install zxing-cpp pillow)" >&2
kiosk=$(cargo bench -p kiosk --bench decode_photos 2>/dev/null | grep -E '^\||^$')
# The decoders' table, then the pipeline's passes.
printf '%s\n' "$kiosk" | sed '/^$/,$d'
python3 scripts/measure-decoders.py "$photos" | grep -E '^\|' | tail -n +3
echo
printf '%s\n' "$kiosk" | sed '1,/^$/d'
