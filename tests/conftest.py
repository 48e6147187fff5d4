"""Fixtures shared by several test modules."""

from __future__ import annotations

import os
import tempfile

import pytest
import torch

from lmrec.text.vector_cache import CACHE_ENV


def pytest_configure(config):
    """Text vectors kept between fits go to a directory of this run's (subprocesses inherit
    it), never to the user's cache."""
    os.environ[CACHE_ENV] = tempfile.mkdtemp(prefix="lmrec-test-cache-")


@pytest.fixture(scope="module")
def one_thread():
    """Tiny models run fastest on one thread, and do not fight other jobs for the cores.
    Modules opt in with ``pytestmark = pytest.mark.usefixtures("one_thread")``."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
