"""The language-model recommender: index items, write prompts, fine-tune, decode through the
item trie. One trained model is one directory (see :meth:`LMRecommender.save`)."""

from __future__ import annotations

import json
import logging
import random
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Self

import torch
from transformers import AutoTokenizer, PreTrainedModel

from lmrec.backbone.causal import is_causal
from lmrec.backbone.lora import (
    ADAPTER_DIR,
    Adapter,
    LoraSettings,
    apply_lora,
    load_adapter,
    merge_lora,
    save_adapter,
    trainable_parameters,
)
from lmrec.backbone.model import (
    auto_model_class,
    check_dropout,
    count_parameters,
    is_scratch,
    prepare_model,
)
from lmrec.backbone.tokenizer import check_tokenizer_algorithm
from lmrec.backbone.wholeword import (
    WHOLE_WORD_FILE,
    install_whole_word,
    load_whole_word,
    save_whole_word,
    whole_word_of,
    without_whole_word,
)
from lmrec.config import from_dict
from lmrec.data.random_split import InteractionSplit, split_interactions
from lmrec.data.schema import Catalog
from lmrec.data.split import Split
from lmrec.decoding.beam import constrained_beam_search, score_candidates
from lmrec.decoding.trie import ItemTrie
from lmrec.indexing import IndexConfig, ItemIndex, build_index
from lmrec.metrics.ranking import ndcg_at_k
from lmrec.prompts.templates import Template, TemplateSet, load_templates
from lmrec.recommenders.base import Recommender, Scored
from lmrec.recommenders.task_answers import RatingAnswer, TaskAnswers
from lmrec.tasks import (
    TASK_FAMILIES,
    PromptConfig,
    TaskConfig,
    TaskContext,
    TaskData,
    UserIndex,
    multitask_examples,
    parse_tasks,
    sequential_examples,
    sequential_pairs,
    sequential_prompt,
)
from lmrec.tasks.events import (
    EventConfig,
    marker_words,
    typed_examples,
    typed_pairs,
    typed_prompt,
    without_item,
)
from lmrec.tasks.sequential import sequence_examples, sequence_text
from lmrec.training.loop import (
    NDCG10,
    NEG_LOSS,
    TrainConfig,
    TrainResult,
    evaluation_losses,
    train_model,
)

logger = logging.getLogger(__name__)

CONFIG_FILE = "lmrec.json"
INDEX_FILE = "item_index.json"
TEMPLATES_FILE = "templates.json"
CATALOG_FILE = "catalog.jsonl"
USERS_FILE = "user_index.json"
# Template families whose text a scratch tokenizer always learns (as before multitask).
_BASE_FAMILIES = ("sequential", "named")

__all__ = ["LMConfig", "LMRecommender", "RatingAnswer", "set_threads"]
FORMAT_VERSION = 1
OBJECTIVES = ("answer", "sequence")


@dataclass(frozen=True)
class LMConfig:
    """Everything that defines a language-model recommender.

    model: ``scratch:tiny|small|base`` (a T5 built from a config, tokenizer trained on the
        data), ``scratch:gpt-tiny|gpt-small|llama-tiny|llama-small`` (decoder-only, likewise),
        a hub name such as ``t5-small`` or ``gpt2``, or a local model directory. Encoder-decoder
        or decoder-only follows the checkpoint's config (``is_encoder_decoder``).
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

    def __post_init__(self) -> None:
        tasks = parse_tasks(self.tasks)
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

    @property
    def weights(self) -> tuple[float, ...]:
        """The weight of each task in ``tasks`` (1.0 where none was given)."""
        return self.task_weights or (1.0,) * len(self.tasks)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> LMConfig:
        return from_dict(cls, data)


def catalog_corpus(
    catalog: Catalog, templates: TemplateSet, families: tuple[str, ...] = _BASE_FAMILIES
) -> list[str]:
    """Text a scratch tokenizer learns from: the templates of ``families`` and every item
    text. (A sequential-only model sees exactly the text it always has.)"""
    chosen = [t for t in templates.templates if t.family in families]
    texts = [t.source for t in chosen] + [t.target for t in chosen]
    for item in catalog.values():
        texts.extend(v for v in (item.name, item.category, item.description) if v)
        texts.extend(item.names.values())
    return texts


class LMRecommender(TaskAnswers, Recommender):
    """A language model (T5-style encoder-decoder, or decoder-only such as GPT-2 or LLaMA)
    fine-tuned on P5 prompts: sequential recommendation, and with
    ``LMConfig.tasks`` also rating, explanation, review and direct recommendation."""

    name = "lm"

    def __init__(self, config: LMConfig | None = None):
        self.config = config or LMConfig()
        self.model = None
        self.tokenizer = None
        self.index: ItemIndex | None = None
        self.templates: TemplateSet = load_templates()
        self.catalog: Catalog | None = None
        self.trie: ItemTrie | None = None
        self.train_result: TrainResult | None = None
        self.users: UserIndex | None = None
        self.adapter: Adapter | None = None

    # ------------------------------------------------------------------ training
    def fit(self, split: Split, interactions: InteractionSplit | None = None) -> Self:
        """Train on a leave-one-out split. Rating, explanation and review tasks train on
        ``interactions`` (default: the seeded random 80/10/10 split of the same events,
        ``split_interactions(split, config.multitask.split_seed)``)."""
        cfg = self.config
        self.catalog = split.catalog
        self.index = build_index(split, cfg.index)
        multitask = cfg.tasks != ("sequential",)
        families = _BASE_FAMILIES
        id_tokens = self.index.vocabulary()
        extra_text: list[str] = []
        self.users = None
        if multitask:
            if interactions is None:
                interactions = split_interactions(split, cfg.multitask.split_seed)
            data = TaskData.build(split, interactions, cfg.prompts)
            self.users = UserIndex.build(u for u, events in split.train.items() if events)
            families += tuple(f for t in cfg.tasks for f in TASK_FAMILIES[t])
            id_tokens = id_tokens + self.users.vocabulary()
            extra_text = data.corpus()
        if cfg.events.typed and is_scratch(cfg.model):
            id_tokens = id_tokens + marker_words(self.templates)
        corpus = catalog_corpus(split.catalog, self.templates, families) + extra_text
        self.model, self.tokenizer = prepare_model(
            cfg.model,
            corpus,
            id_tokens,
            seed=cfg.train.seed,
            quantization=cfg.quantization,
            tokenizer_algorithm=cfg.tokenizer,
            dropout=cfg.dropout,
        )
        self.adapter = None
        if cfg.whole_word:
            install_whole_word(
                self.model,
                self.tokenizer,
                (self.index.code(i) for i in self.index.items),
                cfg.train.seed,
            )
        if cfg.lora is not None:
            ids = self.tokenizer.convert_tokens_to_ids(list(id_tokens))
            self.model = apply_lora(self.model, cfg.lora, ids)
        if cfg.objective == "sequence" and not is_causal(self.model):
            raise ValueError(
                f"objective='sequence' needs a decoder-only model ({cfg.model} is an "
                "encoder-decoder): use scratch:gpt-tiny|gpt-small|llama-tiny|llama-small or a "
                "causal checkpoint"
            )
        self.trie = ItemTrie.from_index(self.index, self.tokenizer)
        logger.info(
            "model %s: %d parameters (%d trained), %d items in the index",
            cfg.model,
            count_parameters(self.model),
            trainable_parameters(self.model),
            len(self.index),
        )
        if cfg.events.active:
            pairs = typed_pairs(split, cfg.events, cfg.prompts.max_targets_per_user)
        else:
            pairs = sequential_pairs(split, cfg.prompts.max_targets_per_user)
        if not pairs and "sequential" in cfg.tasks:
            raise ValueError(f"{split.name}: no training pairs (every history is shorter than 2)")

        ctx = (
            TaskContext(self.index, self.users, self.catalog, cfg.multitask, cfg.prompts.language)
            if multitask
            else None
        )

        def examples_for_epoch(epoch: int):
            if cfg.objective == "sequence":
                return sequence_examples(
                    split, self.index, cfg.prompts.max_history, self.tokenizer.eos_token
                )
            if multitask:
                return multitask_examples(
                    data,
                    ctx,
                    self.templates,
                    cfg.tasks,
                    cfg.weights,
                    cfg.train.seed,
                    epoch,
                    cfg.multitask.max_examples_per_task,
                )
            rng = random.Random(cfg.train.seed * 7919 + epoch)
            if cfg.events.active:
                return typed_examples(
                    pairs, self.index, self.templates, cfg.prompts, cfg.events, rng
                )
            return sequential_examples(pairs, self.index, self.templates, cfg.prompts, rng)

        valid_users = [u for u in split.valid if split.train.get(u)]
        if cfg.train.max_valid_users and len(valid_users) > cfg.train.max_valid_users:
            valid_users = random.Random(cfg.train.seed).sample(
                valid_users, cfg.train.max_valid_users
            )

        def validate(model, shard: slice) -> list[float]:
            """NDCG@10 of each validation user in this process's share."""
            self.model = model
            users = valid_users[shard]
            known = [split.train[u] for u in users]
            if cfg.events.unseen_targets:
                known = [
                    without_item(h, split.valid[u].item) for h, u in zip(known, users, strict=True)
                ]
            histories = [[x.item for x in h] for h in known]
            events = [[x.event for x in h] for h in known] if cfg.events.typed else None
            ranked = self.recommend(
                histories, k=10, exclude_seen=cfg.valid_exclude_seen, events=events
            )
            return [
                ndcg_at_k([s.item for s in r], split.valid[u].item, 10)
                for u, r in zip(users, ranked, strict=True)
            ]

        if "sequential" in cfg.tasks or not multitask:
            checker, metric = (validate if valid_users else None), NDCG10
        else:
            checker, metric = self._loss_validation(split, interactions, data, ctx), NEG_LOSS
        self.train_result = train_model(
            self.model, self.tokenizer, examples_for_epoch, checker, cfg.train, metric
        )
        if cfg.lora is not None:
            self.model, self.adapter = merge_lora(self.model, cfg.model)
        self.model.eval()
        return self

    def _loss_validation(
        self, split: Split, interactions: InteractionSplit, data: TaskData, ctx: TaskContext
    ) -> Callable[[PreTrainedModel, slice], list[float]] | None:
        """A mixture without the sequential task is validated by its loss on held-out examples
        of its own tasks (:meth:`TaskData.validation`): one fixed set, drawn once (seeded), at
        most ``max_valid_users`` examples per task; the score is minus each example's mean
        answer-token loss. None when there is nothing held out."""
        cfg = self.config
        held_out = multitask_examples(
            data.validation(split, interactions),
            ctx,
            self.templates,
            cfg.tasks,
            (1.0,) * len(cfg.tasks),
            cfg.train.seed,
            -1,
            cfg.train.max_valid_users,
        )
        if not held_out:
            return None
        logger.info("validation: loss on %d held-out examples", len(held_out))

        def validate(model, shard: slice) -> list[float]:
            losses = evaluation_losses(
                model, self.tokenizer, held_out[shard], cfg.train.max_source_length
            )
            return [-x for x in losses]

        return validate

    # ------------------------------------------------------------------ inference
    @property
    def _separated(self) -> bool:
        """Whether a decoder-only prompt ends in ``</s>`` before the answer (not under the
        sequence objective, whose answer continues the ids directly)."""
        return self.config.objective != "sequence"

    def _require_fitted(self) -> None:
        if self.model is None or self.index is None or self.trie is None:
            raise RuntimeError("the language model is not trained or loaded yet")

    def template_for(self, template_id: str | None = None, language: str | None = None) -> Template:
        chosen = template_id or self.config.template
        if chosen:
            return self.templates.get(chosen)
        return self.templates.select("sequential", language or self.config.prompts.language)[0]

    def prompts(
        self,
        histories: Sequence[Sequence[str]],
        template: Template,
        events: Sequence[Sequence[str]] | None = None,
    ) -> list[str]:
        """Sequential prompts; with ``config.events.typed`` each history event carries its type
        (``events``, one type per history item; none given reads every event as a purchase)."""
        assert self.index is not None
        max_history = self.config.prompts.max_history
        if self.config.objective == "sequence":
            eos = self.tokenizer.eos_token
            return [sequence_text(h, self.index, max_history, eos) for h in histories]
        if self.config.events.typed:
            types = events if events is not None else [None] * len(histories)
            return [
                typed_prompt(h, e, self.index, template, self.templates, max_history)
                for h, e in zip(histories, types, strict=True)
            ]
        return [sequential_prompt(h, self.index, template, max_history) for h in histories]

    def recommend(
        self,
        histories: Sequence[Sequence[str]],
        k: int = 10,
        exclude_seen: bool = True,
        template: str | None = None,
        language: str | None = None,
        events: Sequence[Sequence[str]] | None = None,
    ) -> list[list[Scored]]:
        """Top-k catalogue items per history (item ids, oldest first), by trie beam search.
        ``events`` gives each history item's event type (used when the model is typed)."""
        self._require_fitted()
        chosen = self.template_for(template, language)
        k = min(k, len(self.index))
        results: list[list[Scored]] = []
        size = self.config.inference_batch_size
        for start in range(0, len(histories), size):
            chunk = histories[start : start + size]
            kinds = events[start : start + size] if events is not None else None
            exclude = [list(h) for h in chunk] if exclude_seen else None
            ranked = constrained_beam_search(
                self.model,
                self.tokenizer,
                self.trie,
                self.prompts(chunk, chosen, kinds),
                k=k,
                num_beams=self.config.num_beams,
                exclude=exclude,
                max_source_length=self.config.train.max_source_length,
                separator=self._separated,
            )
            results.extend([Scored(i, s) for i, s in r] for r in ranked)
        return results

    def score(
        self,
        histories: Sequence[Sequence[str]],
        candidates: Sequence[Sequence[str]],
        template: str | None = None,
        events: Sequence[Sequence[str]] | None = None,
    ) -> list[list[float]]:
        """Log-likelihood of each candidate item for each history, in one batched pass."""
        self._require_fitted()
        chosen = self.template_for(template)
        return score_candidates(
            self.model,
            self.tokenizer,
            self.trie,
            self.prompts(histories, chosen, events),
            candidates,
            max_source_length=self.config.train.max_source_length,
            separator=self._separated,
        )

    # ------------------------------------------------------------------ persistence
    def save(self, path: str | Path) -> None:
        """One directory: safetensors weights + config (plain transformers can load it),
        tokenizer, item index, templates, catalogue and the lmrec config; after LoRA training
        the weights have the adapter merged in, and ``adapter/`` holds the adapter itself; with
        ``whole_word`` the whole-word table is ``whole_word.safetensors``."""
        self._require_fitted()
        out = Path(path)
        out.mkdir(parents=True, exist_ok=True)
        with without_whole_word(self.model):
            self.model.save_pretrained(out)
        if whole_word_of(self.model) is not None:
            save_whole_word(self.model, out / WHOLE_WORD_FILE)
        self.tokenizer.save_pretrained(out)
        self.index.save(out / INDEX_FILE)
        self.templates.save(out / TEMPLATES_FILE)
        if self.users is not None:
            self.users.save(out / USERS_FILE)
        self.catalog.save_jsonl(out / CATALOG_FILE)
        if self.adapter is not None:
            save_adapter(self.adapter, out / ADAPTER_DIR)
        meta = {
            "format_version": FORMAT_VERSION,
            "config": self.config.to_dict(),
            "train_result": self.train_result.as_dict() if self.train_result else None,
        }
        (out / CONFIG_FILE).write_text(json.dumps(meta, indent=1), encoding="utf-8")

    @classmethod
    def load(cls, path: str | Path) -> Self:
        """A directory written by :meth:`save`. With ``whole_word`` the whole-word embedding is
        re-installed and its table loaded from ``whole_word.safetensors`` (plain transformers
        loads the directory without it)."""
        src = Path(path)
        meta_path = src / CONFIG_FILE
        if not meta_path.exists():
            raise FileNotFoundError(f"{src} is not an lmrec model directory (no {CONFIG_FILE})")
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        config = LMConfig.from_dict(meta["config"])
        rec = cls(config)
        rec.model = auto_model_class(str(src)).from_pretrained(src)
        rec.model.eval()
        rec.tokenizer = AutoTokenizer.from_pretrained(src)
        rec.index = ItemIndex.load(src / INDEX_FILE)
        rec.templates = load_templates(src / TEMPLATES_FILE)
        rec.catalog = Catalog.load_jsonl(src / CATALOG_FILE)
        rec.trie = ItemTrie.from_index(rec.index, rec.tokenizer)
        if config.whole_word:
            install_whole_word(
                rec.model,
                rec.tokenizer,
                (rec.index.code(i) for i in rec.index.items),
                config.train.seed,
            )
            load_whole_word(rec.model, src / WHOLE_WORD_FILE)
        if (src / USERS_FILE).exists():
            rec.users = UserIndex.load(src / USERS_FILE)
        if (src / ADAPTER_DIR).exists():
            rec.adapter = load_adapter(src / ADAPTER_DIR)
        if meta.get("train_result"):
            rec.train_result = TrainResult.from_dict(meta["train_result"])
        return rec

    def with_config(self, **changes) -> LMRecommender:
        """The same trained model with inference settings changed (template, beams, ...)."""
        clone = type(self)(replace(self.config, **changes))
        for attr in (
            "model",
            "tokenizer",
            "index",
            "templates",
            "catalog",
            "trie",
            "train_result",
            "users",
            "adapter",
        ):
            setattr(clone, attr, getattr(self, attr))
        return clone


def set_threads(threads: int | None) -> None:
    """Limit PyTorch's intra-op threads (two PyTorch jobs on two cores slow each other ~6x)."""
    if threads:
        torch.set_num_threads(threads)
