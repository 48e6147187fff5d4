"""Shared fixtures: a tiny untrained model of the built-in bilingual shop, saved once."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from fastapi.testclient import TestClient
from lm_fixtures import tiny_config

from lmrec.data import leave_one_out_split, make_sportshop
from lmrec.recommenders.lm import LMRecommender
from lmrec.serve import ServeConfig, create_app

API_KEY = "test-write-key"
READ_KEY = "test-read-key"


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.set_num_threads(1)
    split = leave_one_out_split(make_sportshop(n_users=50).select(first_only=True))
    out = tmp_path_factory.mktemp("serve_model")
    LMRecommender(tiny_config(epochs=0)).fit(split).save(out)
    return out


@pytest.fixture(scope="session")
def catalog(model_dir: Path):
    return LMRecommender.load(model_dir).catalog


@pytest.fixture(scope="module")
def service_client(model_dir: Path, tmp_path_factory: pytest.TempPathFactory):
    """A client of the service (write key configured), with an event store of its own for each
    test module; a server error comes back as the 500 response an HTTP client would get, not
    as an exception."""
    db = tmp_path_factory.mktemp("service") / "events.sqlite"
    config = ServeConfig(str(model_dir), str(db), api_key=API_KEY)
    with TestClient(create_app(config), raise_server_exceptions=False) as client:
        yield client
