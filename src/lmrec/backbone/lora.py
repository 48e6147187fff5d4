"""LoRA fine-tuning through ``peft``: low-rank updates on the attention projections, plus the
item id tokens' embedding rows (new tokens must be learned, and LoRA alone cannot give them
useful embeddings), everything else frozen.

After training, :func:`merge_lora` folds the update into the weights, so the trained
recommender is a plain transformers model (no adapter overhead when decoding, and a saved
directory that plain transformers loads); the adapter itself is kept and saved beside it
(:func:`save_adapter`) for use with peft on the base model it names.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from peft import LoraConfig, PeftModel, get_peft_model, get_peft_model_state_dict
from safetensors.torch import load_file, save_file
from transformers import PreTrainedModel

__all__ = [
    "ADAPTER_DIR",
    "Adapter",
    "LoraSettings",
    "apply_lora",
    "load_adapter",
    "merge_lora",
    "save_adapter",
    "trainable_parameters",
]

ADAPTER_DIR = "adapter"
ADAPTER_WEIGHTS = "adapter_model.safetensors"


@dataclass(frozen=True)
class LoraSettings:
    """LoRA settings (``lmrec train --lora r=8,alpha=16,dropout=0.05,targets=q,v``).

    r: rank of each low-rank update.
    alpha: scale numerator: the update is multiplied by ``alpha / r``.
    dropout: dropout on the adapted layers' input while training.
    targets: names of the adapted modules (``q,v`` for T5, ``c_attn`` for GPT-2,
        ``q_proj,v_proj`` for LLaMA); empty = peft's default for the architecture, which is
        exactly those.
    """

    r: int = 8
    alpha: float = 16.0
    dropout: float = 0.05
    targets: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.r < 1:
            raise ValueError(f"LoRA rank r must be at least 1, got {self.r}")
        if self.alpha <= 0:
            raise ValueError(f"LoRA alpha must be positive, got {self.alpha}")
        if not 0 <= self.dropout < 1:
            raise ValueError(f"LoRA dropout must be in [0, 1), got {self.dropout}")
        object.__setattr__(self, "targets", tuple(self.targets))

    @classmethod
    def parse(cls, text: str) -> LoraSettings:
        """``r=8,alpha=16,dropout=0.05,targets=q,v``: any subset, the rest default. Names
        after ``targets=`` continue its list, so ``targets`` comes last."""
        values: dict[str, object] = {}
        targets: list[str] | None = None
        for part in (p.strip() for p in text.split(",")):
            if not part:
                continue
            if "=" not in part:
                if targets is None:
                    raise ValueError(f"LoRA setting {part!r} is not key=value (keys: {_KEYS})")
                targets.append(part)
                continue
            key, value = (s.strip() for s in part.split("=", 1))
            if key in values or (key == "targets" and targets is not None):
                raise ValueError(f"LoRA setting {key!r} given twice")
            if key == "targets":
                targets = [value] if value else []
            elif key in _NUMBERS:
                try:
                    values[key] = _NUMBERS[key](value)
                except ValueError:
                    raise ValueError(
                        f"LoRA setting {key}={value!r} is not a {_NUMBERS[key].__name__}"
                    ) from None
            else:
                raise ValueError(f"unknown LoRA setting {key!r} (keys: {_KEYS})")
            if targets is not None and key != "targets":
                raise ValueError("LoRA 'targets' must come last (its names run to the end)")
        return cls(**values, targets=tuple(targets or ()))


_NUMBERS = {"r": int, "alpha": float, "dropout": float}
_KEYS = "r, alpha, dropout, targets"


def apply_lora(
    model: PreTrainedModel, settings: LoraSettings, token_ids: Sequence[int]
) -> PeftModel:
    """Wrap ``model`` for LoRA training: low-rank updates on ``settings.targets`` and trainable
    embedding rows for ``token_ids`` (the item/user id tokens); all else frozen."""
    config = LoraConfig(
        r=settings.r,
        lora_alpha=settings.alpha,
        lora_dropout=settings.dropout,
        target_modules=list(settings.targets) or None,
        trainable_token_indices=_token_rows(model, list(token_ids)),
    )
    return get_peft_model(model, config)


def _token_rows(model: PreTrainedModel, ids: list[int]) -> list[int] | dict[str, list[int]]:
    """Where the id tokens' rows are trained. With tied input and output embeddings one layer
    holds them; otherwise (e.g. LLaMA-7B) the output layer's rows, which score the item ids
    when decoding, must be trained too."""
    output = model.get_output_embeddings()
    if getattr(model.config, "tie_word_embeddings", False) or output is None:
        return ids
    names = {id(m): n for n, m in model.named_modules()}
    return {names[id(model.get_input_embeddings())]: ids, names[id(output)]: ids}


@dataclass
class Adapter:
    """A trained LoRA adapter: its peft config (which names the base model) and weights."""

    config: LoraConfig
    weights: dict[str, torch.Tensor]


def merge_lora(model: PeftModel, base_name: str) -> tuple[PreTrainedModel, Adapter]:
    """Fold the adapter into the weights; return the plain model and a copy of the adapter,
    recorded as an adapter of ``base_name`` (a hub name, directory or ``scratch:`` preset)."""
    config = model.peft_config[model.active_adapter]
    config.base_model_name_or_path = base_name
    # save_embedding_layers=False: the id tokens' rows are in the adapter already, and "auto"
    # would look the base model up on the hub.
    weights = get_peft_model_state_dict(model, save_embedding_layers=False)
    adapter = Adapter(config, {k: v.detach().clone().contiguous() for k, v in weights.items()})
    return model.merge_and_unload(), adapter


def save_adapter(adapter: Adapter, path: str | Path) -> None:
    """Write the adapter as peft does: ``PeftModel.from_pretrained(base, path)`` loads it onto
    the base model (with its embeddings resized to the saved tokenizer)."""
    out = Path(path)
    out.mkdir(parents=True, exist_ok=True)
    adapter.config.save_pretrained(out)
    save_file(adapter.weights, out / ADAPTER_WEIGHTS, metadata={"format": "pt"})


def load_adapter(path: str | Path) -> Adapter:
    """Read back what :func:`save_adapter` wrote."""
    src = Path(path)
    return Adapter(LoraConfig.from_pretrained(str(src)), load_file(src / ADAPTER_WEIGHTS))


def trainable_parameters(model: torch.nn.Module) -> int:
    """How many parameters training updates."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
