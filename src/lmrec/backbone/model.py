"""Load a language model (encoder-decoder like T5, or decoder-only like GPT-2 and LLaMA) from a
hub name or a local directory, or build one from a config with a tokenizer trained on the data;
add item id tokens; save it all as one directory.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

import torch
import torch.nn.functional as F
from transformers import (
    AutoConfig,
    AutoModelForCausalLM,
    AutoModelForSeq2SeqLM,
    AutoTokenizer,
    GPT2Config,
    GPT2LMHeadModel,
    LlamaConfig,
    LlamaForCausalLM,
    PreTrainedModel,
    PreTrainedTokenizerFast,
    T5Config,
    T5ForConditionalGeneration,
)

from lmrec.backbone.tokenizer import add_id_tokens, build_tokenizer

logger = logging.getLogger(__name__)

SCRATCH_PREFIX = "scratch:"


@dataclass(frozen=True)
class ScratchPreset:
    """Shape of a model built from a config. ``small`` follows TIGER (4+4 layers, d_model 128).

    architecture: "t5" (encoder-decoder; ``num_layers`` each side), "gpt2" or "llama"
        (decoder-only; ``num_layers`` in all).
    d_kv: size of one attention head (T5 and LLaMA; GPT-2 uses ``d_model / num_heads``).
    vocab_size: size of the tokenizer trained on the data (before item id tokens).
    """

    d_model: int
    d_ff: int
    num_layers: int
    num_heads: int
    d_kv: int
    vocab_size: int
    architecture: str = "t5"


_TINY = ScratchPreset(d_model=64, d_ff=256, num_layers=2, num_heads=4, d_kv=16, vocab_size=1000)
_SMALL = ScratchPreset(d_model=128, d_ff=512, num_layers=4, num_heads=4, d_kv=32, vocab_size=2000)

SCRATCH_PRESETS: dict[str, ScratchPreset] = {
    "tiny": _TINY,
    "small": _SMALL,
    "base": ScratchPreset(
        d_model=256, d_ff=1024, num_layers=4, num_heads=4, d_kv=64, vocab_size=4000
    ),
    # Decoder-only. *-small has the 8 layers that scratch:small's T5 has in its encoder and
    # decoder together, so about its parameter count; *-tiny is for tests and is the
    # recommended model's shape; llama-wide is llama-tiny at width 128 (the tuned SASRec's).
    "gpt-tiny": replace(_TINY, architecture="gpt2"),
    "gpt-small": replace(_SMALL, num_layers=8, architecture="gpt2"),
    "llama-tiny": replace(_TINY, architecture="llama"),
    "llama-small": replace(_SMALL, num_layers=8, architecture="llama"),
    "llama-wide": replace(_SMALL, num_layers=2, architecture="llama"),
}


def is_scratch(spec: str) -> bool:
    return spec.startswith(SCRATCH_PREFIX)


def scratch_preset(spec: str) -> ScratchPreset:
    name = spec.removeprefix(SCRATCH_PREFIX)
    try:
        return SCRATCH_PRESETS[name]
    except KeyError:
        known = ", ".join(SCRATCH_PREFIX + p for p in SCRATCH_PRESETS)
        raise ValueError(f"unknown scratch preset {spec!r} (known: {known})") from None


def check_isolate_separators(spec: str, isolate_separators: bool) -> None:
    """A clear error for ``isolate_separators`` with a pretrained checkpoint, which keeps its
    own tokenizer (the option shapes a scratch tokenizer,
    :func:`lmrec.backbone.tokenizer.build_tokenizer`)."""
    if isolate_separators and not is_scratch(spec):
        raise ValueError(
            "isolate_separators is for scratch tokenizers; a checkpoint keeps its own tokenizer"
        )


def _t5(
    preset: ScratchPreset, tokenizer: PreTrainedTokenizerFast, dropout: float | None
) -> PreTrainedModel:
    config = T5Config(
        vocab_size=len(tokenizer),
        d_model=preset.d_model,
        d_ff=preset.d_ff,
        d_kv=preset.d_kv,
        num_layers=preset.num_layers,
        num_decoder_layers=preset.num_layers,
        num_heads=preset.num_heads,
        dropout_rate=0.1 if dropout is None else dropout,
        decoder_start_token_id=tokenizer.pad_token_id,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
        tie_word_embeddings=True,
    )
    return T5ForConditionalGeneration(config)


def _gpt2(
    preset: ScratchPreset, tokenizer: PreTrainedTokenizerFast, dropout: float | None
) -> PreTrainedModel:
    rate = 0.1 if dropout is None else dropout
    config = GPT2Config(
        vocab_size=len(tokenizer),
        n_embd=preset.d_model,
        n_inner=preset.d_ff,
        n_layer=preset.num_layers,
        n_head=preset.num_heads,
        resid_pdrop=rate,
        embd_pdrop=rate,
        attn_pdrop=rate,
        # </s> separates prompt and answer (lmrec.backbone.causal); there is no separate start
        # token.
        bos_token_id=tokenizer.eos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=True,
    )
    return GPT2LMHeadModel(config)


def _llama(
    preset: ScratchPreset, tokenizer: PreTrainedTokenizerFast, dropout: float | None
) -> PreTrainedModel:
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=preset.d_model,
        intermediate_size=preset.d_ff,
        num_hidden_layers=preset.num_layers,
        num_attention_heads=preset.num_heads,
        num_key_value_heads=preset.num_heads,
        head_dim=preset.d_kv,
        max_position_embeddings=1024,
        attention_dropout=0.0 if dropout is None else dropout,
        bos_token_id=tokenizer.eos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=True,
    )
    model = LlamaForCausalLM(config)
    if dropout:
        _add_llama_hidden_dropout(model, dropout)
    return model


def _add_llama_hidden_dropout(model: LlamaForCausalLM, rate: float) -> None:
    """Dropout where SASRec and GPT-2 have it and LLaMA does not: on the embedded input and on
    each attention and feed-forward output before it joins the residual stream. Forward hooks,
    active in training mode only; the input's hook sits on the first layer, not on the embedding
    table, which adding item tokens replaces. Not saved: a loaded model is for inference."""

    def on_input(module: torch.nn.Module, args: tuple) -> tuple:
        return (F.dropout(args[0], rate, module.training), *args[1:])

    def on_output(module: torch.nn.Module, args: tuple, output):
        if isinstance(output, tuple):  # attention: (hidden states, weights)
            return (F.dropout(output[0], rate, module.training), *output[1:])
        return F.dropout(output, rate, module.training)

    layers = model.model.layers
    layers[0].register_forward_pre_hook(on_input)
    for layer in layers:
        layer.self_attn.register_forward_hook(on_output)
        layer.mlp.register_forward_hook(on_output)


_ARCHITECTURES = {"t5": _t5, "gpt2": _gpt2, "llama": _llama}


def build_scratch_model(
    spec: str, tokenizer: PreTrainedTokenizerFast, seed: int = 0, dropout: float | None = None
) -> PreTrainedModel:
    """A randomly initialised model of a preset shape and architecture, sized to the tokenizer.

    dropout: None keeps each architecture's default (T5 and GPT-2 0.1, LLaMA 0). Otherwise it
        sets T5's ``dropout_rate``, GPT-2's residual, embedding and attention dropout, and
        LLaMA's attention dropout plus the input and residual-branch dropout LLaMA lacks
        (added as forward hooks, see ``_add_llama_hidden_dropout``).
    """
    check_dropout(dropout)
    preset = scratch_preset(spec)
    torch.manual_seed(seed)
    return _ARCHITECTURES[preset.architecture](preset, tokenizer, dropout)


def check_dropout(dropout: float | None) -> None:
    """Refuse a dropout rate outside [0, 1)."""
    if dropout is not None and not 0.0 <= dropout < 1.0:
        raise ValueError(f"dropout must be in [0, 1), got {dropout}")


def auto_model_class(name_or_path: str) -> type:
    """``AutoModelForSeq2SeqLM`` or ``AutoModelForCausalLM``, as the checkpoint's config says."""
    config = AutoConfig.from_pretrained(name_or_path)
    return AutoModelForSeq2SeqLM if config.is_encoder_decoder else AutoModelForCausalLM


QUANTIZATIONS = ("8bit", "4bit")


def _quantization_config(quantization: str | None):
    """bitsandbytes settings for loading a checkpoint in 8 or 4 bits (None: full precision).
    bitsandbytes quantises on CUDA GPUs only, so elsewhere this refuses with a clear message."""
    if quantization is None:
        return None
    if quantization not in QUANTIZATIONS:
        raise ValueError(f"unknown quantization {quantization!r} (known: {QUANTIZATIONS})")
    if not torch.cuda.is_available():
        raise ValueError(
            f"--load-in-{quantization} needs a CUDA GPU (bitsandbytes quantises on GPUs only) "
            "and none is available here; drop the option to train in full precision"
        )
    from transformers import BitsAndBytesConfig

    if quantization == "8bit":
        return BitsAndBytesConfig(load_in_8bit=True)
    return BitsAndBytesConfig(
        load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_compute_dtype=torch.bfloat16
    )


def load_pretrained(
    name_or_path: str, quantization: str | None = None
) -> tuple[PreTrainedModel, PreTrainedTokenizerFast]:
    """Any ``AutoModelForSeq2SeqLM`` or ``AutoModelForCausalLM`` checkpoint (the config's
    ``is_encoder_decoder`` decides), from a hub name (where a hub is reachable) or a local
    directory; ``quantization`` "8bit"/"4bit" loads it through bitsandbytes (GPU only)."""
    quantization_config = _quantization_config(quantization)
    try:
        tokenizer = AutoTokenizer.from_pretrained(name_or_path)
        auto = auto_model_class(name_or_path)
        model = auto.from_pretrained(name_or_path, quantization_config=quantization_config)
    except OSError as err:
        raise OSError(
            f"could not load model {name_or_path!r}: not a local model directory and not "
            f"downloadable here ({err.__class__.__name__}). Use a local path, or "
            f"'scratch:small' to build a model from a config."
        ) from err
    if tokenizer.pad_token is None:
        # GPT-2 and LLaMA tokenizers have no padding token. Padding is masked out of attention
        # and loss anyway, so end-of-sequence can stand in for it.
        tokenizer.pad_token = tokenizer.eos_token
        model.config.pad_token_id = tokenizer.pad_token_id
    return model, tokenizer


def prepare_model(
    spec: str,
    corpus: Iterable[str],
    id_tokens: Sequence[str],
    seed: int = 0,
    quantization: str | None = None,
    tokenizer_algorithm: str = "unigram",
    dropout: float | None = None,
    isolate_separators: bool = False,
) -> tuple[PreTrainedModel, PreTrainedTokenizerFast]:
    """The model and tokenizer for training: built from scratch (tokenizer trained on
    ``corpus`` with ``tokenizer_algorithm`` and ``isolate_separators``, ``dropout`` as
    :func:`build_scratch_model` says) or loaded, with id tokens added and embeddings resized to
    match. A pretrained checkpoint keeps its own tokenizer, so ``isolate_separators`` is
    refused there."""
    if is_scratch(spec):
        if quantization:
            raise ValueError("quantised loading is for pretrained checkpoints, not scratch models")
        tokenizer = build_tokenizer(
            corpus,
            scratch_preset(spec).vocab_size,
            tokenizer_algorithm,
            isolate_separators=isolate_separators,
        )
        add_id_tokens(tokenizer, id_tokens)
        return build_scratch_model(spec, tokenizer, seed, dropout), tokenizer
    if dropout is not None:
        raise ValueError("dropout is set for scratch models; a checkpoint keeps its own")
    check_isolate_separators(spec, isolate_separators)
    model, tokenizer = load_pretrained(spec, quantization)
    if add_id_tokens(tokenizer, id_tokens):
        model.resize_token_embeddings(len(tokenizer))
    return model, tokenizer


def count_parameters(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
