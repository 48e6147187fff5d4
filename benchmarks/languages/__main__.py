"""``python -m benchmarks.languages``: see :mod:`benchmarks.languages`."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # also run as a folder

from benchmarks.languages.cli import main

main()
