"""``python -m benchmarks.knowledge``: see :mod:`benchmarks.knowledge`."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # also run as a folder

from benchmarks.knowledge.cli import main

main()
