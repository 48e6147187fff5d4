"""The output layer and the cross-entropy of a decoder-only training step in one pass over
row chunks (:func:`fused_head_loss`), for a single process on a LLaMA- or GPT-2-style model.

The plain step (:func:`lmrec.training.step.batch_loss`) asks the model for the logits at the
labelled positions, then takes a log-softmax, the loss and their gradients: on full Beauty a
batch of long histories holds ~2,700 labelled positions x 12,202 tokens, so the logits, the
log-softmax, the zeroed gradient of the loss and the log-softmax's gradient are four
130 MB arrays, written and read from memory one after another. Here the trunk gives the
hidden states, and each chunk of rows (a few MB, so it stays in cache) goes through the
output layer, its log-sum-exp, its loss and its gradient (softmax minus one-hot) at once; the
gradients for the hidden states and the output weights are accumulated in the forward pass
and handed to autograd afterwards. Same loss and gradients to float rounding (tested).

Not under DDP (the wrapper's forward must run for gradients to be shared; the plain step is
used there), and only where the logits are the hidden states times the output layer's weight
plus its bias: :func:`fuses_head`.
"""

from __future__ import annotations

import torch
from torch import nn

from lmrec.backbone.itemtext import ItemTextHead, fast_bf16

__all__ = ["chunked_linear_cross_entropy", "fused_head_loss", "fuses_head"]

# Model types whose causal-LM head is exactly ``lm_head(hidden)``: no logit scaling or capping.
PLAIN_HEADS = ("llama", "gpt2")
# Logit elements per chunk (4 MB in float32): large enough for efficient products, small
# enough to stay in cache between the output layer, the softmax and the gradient products.
CHUNK_ELEMENTS = 1 << 20


def fuses_head(model: nn.Module) -> bool:
    """Whether :func:`fused_head_loss` applies to ``model`` as it is called in a step: a
    plain (not DDP-wrapped, not peft-wrapped) decoder-only LLaMA or GPT-2 model whose output
    layer is a linear layer or lmrec's item-text head."""
    if hasattr(model, "get_base_model"):  # a peft wrapper: its base_model is not the trunk
        return False
    config = getattr(model, "config", None)
    if config is None or getattr(config, "model_type", None) not in PLAIN_HEADS:
        return False
    if getattr(config, "final_logit_softcapping", None) is not None:
        return False
    head = model.get_output_embeddings()
    return type(head) in (nn.Linear, ItemTextHead) and hasattr(model, "base_model")


def fused_head_loss(
    model: nn.Module, batch: dict[str, torch.Tensor], bf16_gradients: bool | None = None
) -> torch.Tensor:
    """The loss :func:`lmrec.training.step.batch_loss` gives a causal batch (each example's
    mean cross-entropy over its labelled tokens, then the weight-averaged mean over examples),
    computed through :func:`chunked_linear_cross_entropy`."""
    labels = batch["labels"][:, 1:]
    labelled = labels != -100  # position t predicts token t + 1
    hidden = model.base_model(
        input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], use_cache=False
    ).last_hidden_state[:, :-1]
    rows = labelled.nonzero()[:, 0]
    weights = batch["weights"].to(hidden.device, torch.float32)
    counts = labelled.sum(-1).clamp(min=1).to(torch.float32)
    coefficients = (weights / counts)[rows] / weights.sum().clamp(min=1e-8)
    head = model.get_output_embeddings()
    return chunked_linear_cross_entropy(
        hidden[labelled], head.weight, head.bias, labels[labelled], coefficients,
        bf16_gradients=bf16_gradients,
    )  # fmt: skip


def chunked_linear_cross_entropy(
    hidden: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None,
    targets: torch.Tensor,
    coefficients: torch.Tensor,
    chunk: int | None = None,
    bf16_gradients: bool | None = None,
    bf16_logits: bool | None = None,
) -> torch.Tensor:
    """``sum_r coefficients[r] * CE(hidden[r] @ weight.T + bias, targets[r])`` without the
    (rows, vocabulary) logits in memory at once: ``chunk`` rows at a time (default: about
    :data:`CHUNK_ELEMENTS` logits). Differentiable in ``hidden``, ``weight`` and ``bias``.

    ``bf16_gradients`` (None: where the device multiplies bfloat16 natively, for float32
    weights; :func:`~lmrec.backbone.itemtext.fast_bf16`): the two gradient products read the
    softmax gradient, the weights and the hidden states in bfloat16 (float32 sums): a third
    less time in them on an AVX512-BF16 CPU, gradients within bfloat16 rounding (~0.4 %).
    ``bf16_logits`` (None: as ``bf16_gradients``): the output layer's product reads the hidden
    states and weights in bfloat16 too (float32 sums, the logits rounded to bfloat16 before
    the float32 softmax): 2.5x faster on such a CPU; the loss moves by ~1e-5 of itself and the
    gradients by less than the gradient products' own rounding (measured 0.2-0.3 % on a
    Beauty-sized layer). False keeps the logits and the loss float32."""
    if chunk is None:
        chunk = max(16, CHUNK_ELEMENTS // max(1, weight.shape[0]))
    if bf16_gradients is None:
        bf16_gradients = weight.dtype == torch.float32 and fast_bf16(weight.device)
    if bf16_logits is None:
        bf16_logits = bf16_gradients
    return _LinearCrossEntropy.apply(
        hidden, weight, bias, targets, coefficients, chunk, bf16_gradients, bf16_logits
    )


class _LinearCrossEntropy(torch.autograd.Function):
    @staticmethod
    def forward(
        ctx, hidden, weight, bias, targets, coefficients, chunk, bf16_gradients, bf16_logits
    ):
        wants_w, wants_b = weight.requires_grad, bias is not None and bias.requires_grad
        grad_hidden = torch.empty_like(hidden)
        grad_weight = torch.zeros_like(weight, dtype=torch.float32) if wants_w else None
        grad_bias = torch.zeros_like(bias, dtype=torch.float32) if wants_b else None
        total = torch.zeros((), dtype=torch.float32, device=hidden.device)
        low = torch.bfloat16 if bf16_gradients else torch.float32
        weight_low = weight.to(low)
        logit_dtype = torch.bfloat16 if bf16_logits else weight.dtype
        weight_logits = weight_low if logit_dtype == low else weight.to(logit_dtype)
        for start in range(0, hidden.shape[0], chunk):
            h = hidden[start : start + chunk]
            t = targets[start : start + chunk]
            c = coefficients[start : start + chunk]
            logits = (h.to(logit_dtype) @ weight_logits.T).float()
            if bias is not None:
                logits += bias.float()
            picked = logits.gather(1, t[:, None]).squeeze(1)
            # one exp pass: exp(logits - max) gives both the log-sum-exp and the softmax
            top = logits.amax(dim=-1, keepdim=True)
            grad = logits.sub_(top).exp_()
            sums = grad.sum(dim=-1, keepdim=True)
            norm = (top + sums.log()).squeeze(1)
            total += (c * (norm - picked)).sum()
            # d loss / d logits = c * (softmax - one-hot), built in the logits' own memory
            grad.mul_(c[:, None] / sums)
            grad[torch.arange(len(t), device=grad.device), t] -= c
            grad_low = grad.to(low)
            grad_hidden[start : start + chunk] = (grad_low @ weight_low).to(hidden.dtype)
            if wants_w:
                grad_weight += grad_low.T @ h.to(low)
            if wants_b:
                grad_bias += grad.sum(0)
        ctx.save_for_backward(grad_hidden, grad_weight, grad_bias)
        ctx.dtypes = (weight.dtype, bias.dtype if bias is not None else None)
        return total

    @staticmethod
    def backward(ctx, grad_total):
        grad_hidden, grad_weight, grad_bias = ctx.saved_tensors
        weight_dtype, bias_dtype = ctx.dtypes
        out_hidden = grad_hidden * grad_total.to(grad_hidden.dtype)
        out_weight = (
            (grad_weight * grad_total).to(weight_dtype) if grad_weight is not None else None
        )
        out_bias = (grad_bias * grad_total).to(bias_dtype) if grad_bias is not None else None
        return out_hidden, out_weight, out_bias, None, None, None, None, None
