"""Tiny language-model configurations and data for tests (a randomly initialised tiny T5)."""

from __future__ import annotations

import random
from pathlib import Path

from lmrec.cli import main
from lmrec.data.schema import Catalog, Dataset, Interaction, Item
from lmrec.data.split import Split, leave_one_out_split
from lmrec.indexing import IndexConfig
from lmrec.recommenders.lm import LMConfig
from lmrec.tasks import PromptConfig
from lmrec.training.loop import TrainConfig


def tiny_config(epochs: int = 0, style: str = "single", **train) -> LMConfig:
    """A tiny scratch T5; ``epochs=0`` gives an untrained (random) model in a second."""
    return LMConfig(
        model="scratch:tiny",
        index=IndexConfig(
            strategy="sequential", style=style, base=3 if style == "subtokens" else 0
        ),
        prompts=PromptConfig(max_history=8),
        train=TrainConfig(
            epochs=epochs, batch_size=16, learning_rate=3e-3, patience=0, progress=False, **train
        ),
    )


def train_tiny_with_cli(out: Path, *data_flags: str) -> Path:
    """``lmrec train`` of a tiny scratch T5 for one epoch on the log of ``data_flags``, into
    ``out``: a real model directory for CLI tests, in seconds."""
    argv = ["--quiet", "train", *data_flags, "--model", "scratch:tiny", "--epochs", "1"]
    assert main([*argv, "--batch-size", "16", "--out", str(out)]) == 0
    return out


def train_text_model_with_cli(out: Path, representation: str = "ids+text") -> Path:
    """``lmrec train`` of the default model (scratch LLaMA, sequence objective) for one epoch
    on 60 users of the built-in shop, with item text (TF-IDF) in its item representation
    (``representation="ids"`` for none): a model that takes new items, in seconds."""
    argv = ["--quiet", "train", "--data", "builtin", "--first-only", "--users", "60"]
    argv += ["--epochs", "1", "--item-representation", representation, "--item-text", "tfidf"]
    assert main([*argv, "--out", str(out)]) == 0
    return out


def cycle_split(n_items: int = 12, n_users: int = 120, length: int = 7, seed: int = 0) -> Split:
    """Users walk a cycle of items (i0 -> i1 -> ... -> i0) from a random start: the right next
    item is always the successor of the last one."""
    rng = random.Random(seed)
    interactions = []
    for u in range(n_users):
        start = rng.randrange(n_items)
        for t in range(length):
            interactions.append(
                Interaction(
                    f"u{u}", f"i{(start + t) % n_items}", float(t), position=len(interactions)
                )
            )
    catalog = Catalog(Item(f"i{i}", name=f"thing {i}") for i in range(n_items))
    return leave_one_out_split(Dataset(interactions, catalog, name="cycle"))
