"""Trains a tiny T5 on a cyclic toy log and saves this process's weights; run by
tests/test_distributed.py under torchrun (2 processes) and plain python (1 process).

    python tests/ddp_train.py OUT_DIR BATCH_SIZE
"""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path

import torch
from safetensors.torch import save_file

sys.path.insert(0, str(Path(__file__).resolve().parent))
from lm_fixtures import cycle_split  # noqa: E402

from lmrec.backbone.model import prepare_model  # noqa: E402
from lmrec.indexing import IndexConfig, build_index  # noqa: E402
from lmrec.prompts import load_templates  # noqa: E402
from lmrec.tasks import PromptConfig, sequential_examples, sequential_pairs  # noqa: E402
from lmrec.training.loop import TrainConfig, process_state, train_model  # noqa: E402


def main(out: Path, batch_size: int) -> None:
    torch.set_num_threads(1)
    state = process_state()
    split = cycle_split(n_items=10, n_users=48)
    index = build_index(split, IndexConfig())
    templates = load_templates()
    corpus = [t.source for t in templates.templates] + ["thing"]
    model, tokenizer = prepare_model("scratch:tiny", corpus, index.vocabulary(), seed=0)
    for module in model.modules():  # no dropout: processes would draw different masks
        if isinstance(module, torch.nn.Dropout):
            module.p = 0.0
        elif isinstance(getattr(module, "dropout", None), float):  # T5's attention dropout
            module.dropout = 0.0
    pairs = sequential_pairs(split)

    def examples(epoch: int):
        return sequential_examples(pairs, index, templates, PromptConfig(), random.Random(epoch))

    # Validation over 48 "users" whose score is their number plus 100 per epoch, so the last
    # epoch is the best and the gathered mean is known exactly: 23.5 + 100 * epoch.
    scored: list[list[int]] = []

    def validate(_model, shard: slice) -> list[float]:
        users = list(range(48))[shard]
        scored.append(users)
        return [u + 100.0 * len(scored) for u in users]

    config = TrainConfig(epochs=2, batch_size=batch_size, learning_rate=3e-3, progress=False)
    result = train_model(model, tokenizer, examples, validate, config)
    out.mkdir(parents=True, exist_ok=True)
    report = {"scored": scored, "best": result.best_valid_ndcg10, "epoch": result.best_epoch}
    (out / f"rank{state.process_index}.json").write_text(json.dumps(report))
    weights = {k: v.contiguous() for k, v in model.state_dict().items()}
    weights.pop("encoder.embed_tokens.weight", None)  # tied to shared.weight
    weights.pop("decoder.embed_tokens.weight", None)
    weights.pop("lm_head.weight", None)
    save_file(weights, str(out / f"rank{state.process_index}.safetensors"))


if __name__ == "__main__":
    main(Path(sys.argv[1]), int(sys.argv[2]))
