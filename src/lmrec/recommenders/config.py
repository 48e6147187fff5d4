"""What defines a recommender of the language-model family, each checked as a whole when made:
:class:`LMConfig` (backbone, item index, prompts, training, tasks and their options) and
:class:`NamedConfig` (the named-items recommender)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from lmrec.backbone.itemtext import check_item_representation
from lmrec.backbone.lora import LoraSettings
from lmrec.backbone.model import check_dropout, check_isolate_separators, is_scratch
from lmrec.backbone.tokenizer import check_tokenizer_algorithm
from lmrec.config import from_dict
from lmrec.indexing import IndexConfig
from lmrec.tasks import PromptConfig, TaskConfig, parse_tasks
from lmrec.tasks.events import EventConfig
from lmrec.training.config import TrainConfig

__all__ = ["OBJECTIVES", "ONE_TOKEN_STRATEGIES", "WORD_ORDERS", "LMConfig", "NamedConfig"]

OBJECTIVES = ("answer", "sequence")
# Index strategies that give every item one token of its own with style "single".
ONE_TOKEN_STRATEGIES = ("random", "sequential")
WORD_ORDERS = ("natural", "reversed")


@dataclass(frozen=True)
class LMConfig:
    """Everything that defines a language-model recommender.

    model: ``scratch:tiny|small|base`` (a T5 built from a config, tokenizer trained on the
        data), ``scratch:gpt-tiny|gpt-small|llama-tiny|llama-small|llama-wide`` (decoder-only,
        likewise), a hub name such as ``t5-small`` or ``gpt2``, or a local model directory.
        Encoder-decoder or decoder-only follows the checkpoint's config (``is_encoder_decoder``).
    index: how items become id tokens.
    prompts: how prompts are written.
    train: fine-tuning settings.
    template: template id used when recommending; default the first seen sequential template
        of ``prompts.language``.
    num_beams: beam width for top-k (at least k; default k). Exact for one-token ids.
    inference_batch_size: prompts decoded together.
    valid_exclude_seen: exclude history items when measuring validation NDCG@10.
    tasks: task families trained (``lmrec.tasks.TASKS``): sequential, rating, explanation,
        review, direct. Only "sequential" trains exactly the sequential-only model.
    task_weights: loss weight of each task's examples, one per task (empty = all 1.0).
    multitask: settings of the non-sequential tasks (examples per epoch, split seed, ...).
    lora: train a LoRA adapter (and the id tokens' embedding rows) instead of every weight;
        None = full fine-tuning. The adapter is merged into the saved weights and also saved
        on its own (``lmrec.backbone.lora``).
    quantization: load a pretrained checkpoint in "8bit" or "4bit" (bitsandbytes, CUDA GPUs
        only; for LoRA on a frozen quantised base); None = full precision.
    events: event types in sequential prompts and training (typed histories, per-type loss
        weights, target types); off by default. Sequential-only models for now.
    whole_word: add P5's whole-word embedding to the prompt's input embedding (each token also
        embeds the number of the word or item id it belongs to; ``lmrec.backbone.wholeword``).
        Meant for
        ``subtokens`` ids; not with LoRA.
    objective: ``"answer"`` (P5): each training example is one templated prompt and the loss
        is on its answer. ``"sequence"`` (decoder-only backbones, sequential task only): the
        prompt is the item ids alone after a start token, ``</s> i1 i2 ... in``, the answer
        continues it directly, and each user's last ``max_history + 1`` training items are
        one example whose loss covers every next-item prediction in it (as SASRec trains); no
        natural-language template.
    tokenizer: algorithm of a scratch model's tokenizer, ``"unigram"`` or ``"bpe"``
        (:func:`lmrec.backbone.model.build_tokenizer`); ignored for a pretrained checkpoint.
    dropout: a scratch model's dropout rate (:func:`lmrec.backbone.model.build_scratch_model`: T5's
        ``dropout_rate``, GPT-2's residual/embedding/attention dropout, LLaMA's attention
        dropout); None keeps the architecture's default (0.1 for T5 and GPT-2, 0 for LLaMA).
        Refused for a pretrained checkpoint, which keeps its own.
    item_representation: what an item token's vector (input and output embedding alike) is:
        ``"ids"`` its learned id embedding; ``"text"`` a learned projection of the item's frozen
        text vector (``index.item_text``: encoder and template), no id embedding; ``"ids+text"``
        the sum of both (:mod:`lmrec.backbone.itemtext`). Text modes need one-token ids (index
        ``random`` or ``sequential``, style ``single``), not with LoRA or whole-word embeddings;
        a text-mode model can take new items after training (``LMRecommender.add_items``).
    """

    model: str = "scratch:small"
    index: IndexConfig = field(default_factory=IndexConfig)
    prompts: PromptConfig = field(default_factory=PromptConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    template: str | None = None
    num_beams: int | None = None
    inference_batch_size: int = 128
    valid_exclude_seen: bool = True
    tasks: tuple[str, ...] = ("sequential",)
    task_weights: tuple[float, ...] = ()
    multitask: TaskConfig = field(default_factory=TaskConfig)
    lora: LoraSettings | None = None
    quantization: str | None = None
    events: EventConfig = field(default_factory=EventConfig)
    whole_word: bool = False
    objective: str = "answer"
    tokenizer: str = "unigram"
    dropout: float | None = None
    item_representation: str = "ids"

    def __post_init__(self) -> None:
        tasks = parse_tasks(self.tasks)
        self._check_item_representation()
        check_tokenizer_algorithm(self.tokenizer)
        check_dropout(self.dropout)
        if self.dropout is not None and not is_scratch(self.model):
            raise ValueError(
                f"dropout is set for scratch models; the checkpoint {self.model!r} keeps its own"
            )
        if self.objective not in OBJECTIVES:
            raise ValueError(
                f"unknown objective {self.objective!r} (known: {', '.join(OBJECTIVES)})"
            )
        if self.objective == "sequence" and (
            tasks != ("sequential",) or self.events.active or self.whole_word
        ):
            raise ValueError(
                "objective='sequence' trains the sequential task alone, without event options "
                "or whole-word embeddings"
            )
        if self.whole_word and self.lora is not None:
            raise ValueError("whole-word embeddings are not supported with LoRA")
        if self.events.active and tasks != ("sequential",):
            raise ValueError("event options (LMConfig.events) apply to sequential-only models")
        if self.task_weights and len(self.task_weights) != len(tasks):
            raise ValueError(f"{len(self.task_weights)} task weights for {len(tasks)} tasks")
        if any(w < 0 for w in self.task_weights):
            raise ValueError("task weights must be non-negative")
        object.__setattr__(self, "tasks", tasks)
        object.__setattr__(self, "task_weights", tuple(float(w) for w in self.task_weights))

    def _check_item_representation(self) -> None:
        check_item_representation(self.item_representation)
        if self.item_representation == "ids":
            return
        mode = f"item_representation={self.item_representation!r}"
        if self.index.style != "single" or self.index.strategy not in ONE_TOKEN_STRATEGIES:
            raise ValueError(
                f"{mode} needs one token per item, and index {self.index.strategy!r} with style "
                f"{self.index.style!r} writes several: use --index random or sequential with "
                "--id-style single, or --item-representation ids"
            )
        if self.lora is not None or self.whole_word:
            raise ValueError(f"{mode} is not supported with LoRA or whole-word embeddings")

    @property
    def weights(self) -> tuple[float, ...]:
        """The weight of each task in ``tasks`` (1.0 where none was given)."""
        return self.task_weights or (1.0,) * len(self.tasks)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> LMConfig:
        return from_dict(cls, data)


@dataclass(frozen=True)
class NamedConfig:
    """Everything that defines a named-items recommender.

    model: ``scratch:tiny|small|base`` (a T5 built from a config, tokenizer trained on the
        templates and names of ``language``) or a local seq2seq model directory.
    language: language of the templates and of the item names (``Item.name_in``).
    max_history: most recent purchased names kept in a prompt.
    max_targets_per_user: training targets per user (most recent positions); 0 = all.
    max_prompt_candidates: a catalogue this small is listed whole in every prompt.
    num_candidates: size of a sampled candidate list (larger catalogues).
    candidate_seed: seeds the sampled candidate lists (training and inference).
    template: template id used when recommending (default: the language's first seen one).
    num_beams: beam width (at least k; default k).
    inference_batch_size: prompts decoded together.
    valid_exclude_seen: exclude history items when measuring validation NDCG@10.
    train: fine-tuning settings (prompts list many names: 512 source tokens by default).
    tokenizer: algorithm of a scratch model's tokenizer, ``"unigram"`` or ``"bpe"``
        (:func:`lmrec.backbone.model.build_tokenizer`); ignored for a pretrained checkpoint.
    target_word_order: the word order the decoder writes a name in: ``"natural"`` (as the
        catalogue spells it) or ``"reversed"`` (last word first). Only the decoder's target
        changes: prompts list names as spelt and every answer is still returned by its
        catalogue name. Arabic names put the head noun first (قميص كرة القدم, "jersey of
        football"), so the decoder must pick the item's kind before its sport; reversed, it
        writes the sport first, as English does (Soccer Jersey).
    isolate_separators: a scratch tokenizer makes the list separators of the prompts tokens
        of their own, so a listed name ends in the same token as the name the decoder writes
        (:func:`lmrec.backbone.model.build_tokenizer`); must stay False for a pretrained checkpoint.
    """

    model: str = "scratch:tiny"
    language: str = "en"
    max_history: int = 10
    max_targets_per_user: int = 0
    max_prompt_candidates: int = 40
    num_candidates: int = 20
    candidate_seed: int = 0
    template: str | None = None
    num_beams: int | None = None
    inference_batch_size: int = 64
    valid_exclude_seen: bool = True
    train: TrainConfig = field(default_factory=lambda: TrainConfig(max_source_length=512))
    tokenizer: str = "unigram"
    target_word_order: str = "natural"
    isolate_separators: bool = False

    def __post_init__(self) -> None:
        check_tokenizer_algorithm(self.tokenizer)
        check_isolate_separators(self.model, self.isolate_separators)
        if self.target_word_order not in WORD_ORDERS:
            raise ValueError(
                f"target_word_order must be one of {WORD_ORDERS}, not {self.target_word_order!r}"
            )
        if self.num_candidates < 1 or self.max_prompt_candidates < 1:
            raise ValueError("num_candidates and max_prompt_candidates must be at least 1")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> NamedConfig:
        return from_dict(cls, data)
