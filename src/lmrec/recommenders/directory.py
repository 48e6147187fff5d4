"""A trained model as one directory, the same for the language-model and the named-items
recommender: safetensors weights and config (plain transformers loads them), the tokenizer, the
templates, the catalogue, and a JSON file with the recommender's config, format version,
lmrec version and training result; after training, the run's record (``metrics.json``: the
per-epoch history) and its curves (``training.png``). Each recommender adds its own files
(item index, whole-word table, ...)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import torch
from transformers import AutoTokenizer, PreTrainedModel, PreTrainedTokenizerBase

from lmrec import __version__
from lmrec.backbone.itemtext import without_item_text
from lmrec.backbone.model import auto_model_class
from lmrec.backbone.wholeword import (
    WHOLE_WORD_FILE,
    save_whole_word,
    whole_word_of,
    without_whole_word,
)
from lmrec.data.formats import reading
from lmrec.data.schema import Catalog
from lmrec.prompts.templates import TemplateSet, load_templates
from lmrec.training.config import RefitRecord, TrainResult
from lmrec.training.records import METRICS_FILE, PLOT_FILE, metrics_record, plot_history

__all__ = ["CATALOG_FILE", "FORMAT_VERSION", "TEMPLATES_FILE", "ModelDirectory"]

FORMAT_VERSION = 1
TEMPLATES_FILE = "templates.json"
CATALOG_FILE = "catalog.jsonl"


@dataclass
class ModelDirectory:
    """What every model directory holds.

    model, tokenizer: the fine-tuned backbone (a whole-word table, if the model has one, is
        saved as ``whole_word.safetensors`` beside the weights, and re-installed by the owner;
        item text is saved as the effective item rows, plain transformers reading them).
    templates, catalog: the prompt templates and the item catalogue trained with.
    config: the recommender's config as a dict (``to_dict``), kept in ``config_file``.
    train_result: what training reported, if the model was trained.
    refit: how the model was refit on every event, if it was.
    """

    model: PreTrainedModel
    tokenizer: PreTrainedTokenizerBase
    templates: TemplateSet
    catalog: Catalog
    config: dict
    train_result: TrainResult | None = None
    refit: RefitRecord | None = None

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
            # The named-items recommender is never refit: it has no such attribute.
            getattr(recommender, "refit_record", None),
        )

    def restore(self, recommender) -> None:
        """Give ``recommender`` the model, tokenizer, templates, catalogue and training result
        read here (its config is made from :attr:`config` by its own class)."""
        recommender.model, recommender.tokenizer = self.model, self.tokenizer
        recommender.templates, recommender.catalog = self.templates, self.catalog
        recommender.train_result = self.train_result
        recommender.refit_record = self.refit

    def save(self, path: str | Path, config_file: str) -> Path:
        """Write the directory (created if missing); returns its path."""
        out = Path(path)
        out.mkdir(parents=True, exist_ok=True)
        with without_whole_word(self.model), without_item_text(self.model):
            self.model.save_pretrained(out)
        if whole_word_of(self.model) is not None:
            save_whole_word(self.model, out / WHOLE_WORD_FILE)
        self.tokenizer.save_pretrained(out)
        self.templates.save(out / TEMPLATES_FILE)
        self.catalog.save_jsonl(out / CATALOG_FILE)
        meta = {
            "format_version": FORMAT_VERSION,
            "lmrec_version": __version__,
            "config": self.config,
            "train_result": self.train_result.as_dict() if self.train_result else None,
        }
        if self.refit is not None:
            meta["refit"] = self.refit.as_dict()
        (out / config_file).write_text(json.dumps(meta, indent=1), encoding="utf-8")
        if self.train_result is not None:
            self._save_record(out)
        return out

    def _save_record(self, out: Path) -> None:
        """``metrics.json`` and ``training.png``: the run's history, as numbers and curves."""
        result, refit = self.train_result, self.refit
        record = metrics_record(result, refit)
        (out / METRICS_FILE).write_text(json.dumps(record, indent=1), encoding="utf-8")
        plot_history(
            result.history,
            out / PLOT_FILE,
            result.valid_metric,
            result.best_epoch,
            refit.result.history if refit is not None else (),
        )

    @classmethod
    def load(cls, path: str | Path, config_file: str, kind: str) -> ModelDirectory:
        """Read a directory :meth:`save` wrote; ``kind`` names it in the error when
        ``config_file`` is missing (e.g. ``"an lmrec model directory"``)."""
        src = Path(path)
        meta_path = src / config_file
        if not meta_path.exists():
            raise FileNotFoundError(f"{src} is not {kind} (no {config_file})")
        with reading(meta_path):
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
        # A truncated weights file says only "invalid header length": say where.
        with reading(src, "its transformers model (config.json, weights) cannot be read"):
            model = auto_model_class(str(src)).from_pretrained(src)
        _own_memory(model)
        model.eval()
        result = meta.get("train_result")
        directory = cls(
            model=model,
            tokenizer=AutoTokenizer.from_pretrained(src),
            templates=load_templates(src / TEMPLATES_FILE),
            catalog=Catalog.load_jsonl(src / CATALOG_FILE),
            config=meta["config"],
            train_result=TrainResult.from_dict(result) if result else None,
            refit=RefitRecord.from_dict(meta["refit"]) if meta.get("refit") else None,
        )
        directory.read_history(src / METRICS_FILE)
        return directory

    def read_history(self, path: Path) -> None:
        """Put the per-epoch histories of ``metrics.json`` back into the training (and refit)
        result, so a loaded model saved again keeps its record. (Older directories have no
        such file.)"""
        if self.train_result is None or not path.exists():
            return
        record = json.loads(path.read_text(encoding="utf-8"))
        self.train_result.history = record.get("history", [])
        if self.refit is not None and "refit" in record:
            self.refit.result.history = record["refit"].get("history", [])


def _own_memory(model: PreTrainedModel) -> None:
    """Copy the weights out of the memory-mapped file they were loaded from. While mapped, a
    weights file overwritten in place under a running service (``cp`` over the directory)
    kills the process with SIGBUS at its next request, instead of a reload saying the new
    directory is broken while the old model keeps serving."""
    with torch.no_grad():
        for tensor in [*model.parameters(), *model.buffers()]:
            tensor.data = tensor.data.clone()
