"""Distributed data parallel training (2 CPU processes over gloo) and kill-and-resume."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

HERE = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["OMP_NUM_THREADS"] = "1"
    env.pop("CUDA_VISIBLE_DEVICES", None)
    return env


@pytest.mark.slow
def test_two_processes_match_one_process_with_the_same_global_batch(tmp_path):
    torchrun = shutil.which("torchrun", path=str(BIN)) or shutil.which("torchrun")
    assert torchrun, "torchrun comes with torch"
    two = subprocess.run(
        [
            torchrun,
            "--standalone",
            "--nproc_per_node=2",
            str(HERE / "ddp_train.py"),
            str(tmp_path / "two"),
            "4",
        ],
        capture_output=True,
        text=True,
        env=_env(),
        timeout=300,
    )
    assert two.returncode == 0, two.stderr[-3000:]
    one = subprocess.run(
        [sys.executable, str(HERE / "ddp_train.py"), str(tmp_path / "one"), "8"],
        capture_output=True,
        text=True,
        env=_env(),
        timeout=300,
    )
    assert one.returncode == 0, one.stderr[-3000:]
    # Validation: each process scored its own half of the users, every epoch, and all of
    # them (and the single process) gathered the same mean.
    reports = [json.loads((tmp_path / "two" / f"rank{r}.json").read_text()) for r in (0, 1)]
    alone = json.loads((tmp_path / "one" / "rank0.json").read_text())
    assert reports[0]["scored"] == [list(range(0, 48, 2))] * 2
    assert reports[1]["scored"] == [list(range(1, 48, 2))] * 2
    assert alone["scored"] == [list(range(48))] * 2
    assert reports[0]["best"] == reports[1]["best"] == alone["best"] == 223.5
    assert reports[0]["epoch"] == reports[1]["epoch"] == alone["epoch"] == 2
    rank0 = load_file(tmp_path / "two" / "rank0.safetensors")
    rank1 = load_file(tmp_path / "two" / "rank1.safetensors")
    single = load_file(tmp_path / "one" / "rank0.safetensors")
    assert rank0.keys() == rank1.keys() == single.keys()
    for name in rank0:
        assert torch.equal(rank0[name], rank1[name]), f"ranks differ in {name}"
    # Same global batches, examples and schedule; only float summation order differs, which
    # Adam amplifies in coordinates whose gradients are near zero (a few learning-rate steps).
    diffs = torch.cat([(rank0[n] - single[n]).abs().flatten() for n in rank0])
    assert float(diffs.max()) < 1e-2
    assert float(diffs.mean()) < 5e-5


def _train_command(out: Path, resume: bool = False) -> list[str]:
    command = [
        sys.executable,
        "-m",
        "lmrec.cli",
        "--quiet",
        "--threads",
        "1",
        "train",
        "--data",
        "builtin",
        "--users",
        "60",
        "--first-only",
        "--model",
        "scratch:tiny",
        "--epochs",
        "2",
        "--batch-size",
        "8",
        "--checkpoint-steps",
        "3",
        "--patience",
        "0",
        "--max-valid-users",
        "20",
        "--out",
        str(out),
    ]
    return [*command, "--resume"] if resume else command


@pytest.mark.slow
def test_killed_training_resumes_to_the_same_weights(tmp_path):
    straight = subprocess.run(
        _train_command(tmp_path / "straight"),
        capture_output=True,
        text=True,
        env=_env(),
        timeout=300,
    )
    assert straight.returncode == 0, straight.stderr[-3000:]

    out = tmp_path / "killed"
    progress = out / "_train" / "checkpoint" / "progress.json"
    proc = subprocess.Popen(
        _train_command(out), env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 240
    while not progress.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert proc.poll() is None, "training ended before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (out / "model.safetensors").exists()
    resumed = subprocess.run(
        _train_command(out, resume=True),
        capture_output=True,
        text=True,
        env=_env(),
        timeout=300,
    )
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    a = load_file(tmp_path / "straight" / "model.safetensors")
    b = load_file(out / "model.safetensors")
    assert a.keys() == b.keys()
    for name in a:
        assert torch.equal(a[name], b[name]), f"{name} differs after resume"


@pytest.mark.slow
def test_cli_train_under_torchrun_saves_once(tmp_path):
    torchrun = shutil.which("torchrun", path=str(BIN)) or shutil.which("torchrun")
    command = [
        torchrun,
        "--standalone",
        "--nproc_per_node=2",
        "-m",
        "lmrec.cli",
        "--quiet",
        *_train_command(tmp_path / "ddp")[4:],
    ]
    command[command.index("--epochs") + 1] = "1"
    done = subprocess.run(command, capture_output=True, text=True, env=_env(), timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.count("model saved to") == 1, done.stdout
    assert done.stdout.count("leave-one-out split") == 1
    assert (tmp_path / "ddp" / "model.safetensors").exists()
