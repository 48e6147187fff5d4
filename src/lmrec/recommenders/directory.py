"""A trained model as one directory, the same for the language-model and the named-items
recommender: safetensors weights and config (plain transformers loads them), the tokenizer, the
templates, the catalogue, and a JSON file with the recommender's config, format version and
training result. Each recommender adds its own files (item index, whole-word table, ...)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from transformers import AutoTokenizer, PreTrainedModel, PreTrainedTokenizerBase

from lmrec.backbone.model import auto_model_class
from lmrec.backbone.wholeword import (
    WHOLE_WORD_FILE,
    save_whole_word,
    whole_word_of,
    without_whole_word,
)
from lmrec.data.schema import Catalog
from lmrec.prompts.templates import TemplateSet, load_templates
from lmrec.training.config import TrainResult

__all__ = ["CATALOG_FILE", "FORMAT_VERSION", "TEMPLATES_FILE", "ModelDirectory"]

FORMAT_VERSION = 1
TEMPLATES_FILE = "templates.json"
CATALOG_FILE = "catalog.jsonl"


@dataclass
class ModelDirectory:
    """What every model directory holds.

    model, tokenizer: the fine-tuned backbone (a whole-word table, if the model has one, is
        saved as ``whole_word.safetensors`` beside the weights, and re-installed by the owner).
    templates, catalog: the prompt templates and the item catalogue trained with.
    config: the recommender's config as a dict (``to_dict``), kept in ``config_file``.
    train_result: what training reported, if the model was trained.
    """

    model: PreTrainedModel
    tokenizer: PreTrainedTokenizerBase
    templates: TemplateSet
    catalog: Catalog
    config: dict
    train_result: TrainResult | None = None

    @classmethod
    def of(cls, recommender) -> ModelDirectory:
        """What ``recommender`` (with ``model``, ``tokenizer``, ``templates``, ``catalog``,
        ``config`` and ``train_result``) keeps in its directory."""
        return cls(
            recommender.model,
            recommender.tokenizer,
            recommender.templates,
            recommender.catalog,
            recommender.config.to_dict(),
            recommender.train_result,
        )

    def restore(self, recommender) -> None:
        """Give ``recommender`` the model, tokenizer, templates, catalogue and training result
        read here (its config is made from :attr:`config` by its own class)."""
        recommender.model, recommender.tokenizer = self.model, self.tokenizer
        recommender.templates, recommender.catalog = self.templates, self.catalog
        recommender.train_result = self.train_result

    def save(self, path: str | Path, config_file: str) -> Path:
        """Write the directory (created if missing); returns its path."""
        out = Path(path)
        out.mkdir(parents=True, exist_ok=True)
        with without_whole_word(self.model):
            self.model.save_pretrained(out)
        if whole_word_of(self.model) is not None:
            save_whole_word(self.model, out / WHOLE_WORD_FILE)
        self.tokenizer.save_pretrained(out)
        self.templates.save(out / TEMPLATES_FILE)
        self.catalog.save_jsonl(out / CATALOG_FILE)
        meta = {
            "format_version": FORMAT_VERSION,
            "config": self.config,
            "train_result": self.train_result.as_dict() if self.train_result else None,
        }
        (out / config_file).write_text(json.dumps(meta, indent=1), encoding="utf-8")
        return out

    @classmethod
    def load(cls, path: str | Path, config_file: str, kind: str) -> ModelDirectory:
        """Read a directory :meth:`save` wrote; ``kind`` names it in the error when
        ``config_file`` is missing (e.g. ``"an lmrec model directory"``)."""
        src = Path(path)
        meta_path = src / config_file
        if not meta_path.exists():
            raise FileNotFoundError(f"{src} is not {kind} (no {config_file})")
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        model = auto_model_class(str(src)).from_pretrained(src)
        model.eval()
        result = meta.get("train_result")
        return cls(
            model=model,
            tokenizer=AutoTokenizer.from_pretrained(src),
            templates=load_templates(src / TEMPLATES_FILE),
            catalog=Catalog.load_jsonl(src / CATALOG_FILE),
            config=meta["config"],
            train_result=TrainResult.from_dict(result) if result else None,
        )
