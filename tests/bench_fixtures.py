"""Running a benchmark's quick path from a test."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def quick_run(study: str, out: Path, *extra: str) -> dict | None:
    """``python -m benchmarks.<study> --quick`` on 300 users, one thread (and ``extra``
    options); its JSON result (None when the run wrote none: a piece of a study)."""
    command = [sys.executable, "-m", f"benchmarks.{study}", "--quick", "--users", "300", *extra]
    command += ["--threads", "1", "--out", str(out), "--name", "smoke"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-3000:]
    path = out / "smoke-quick.json"
    return json.loads(path.read_text()) if path.exists() else None
