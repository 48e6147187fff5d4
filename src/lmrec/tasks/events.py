"""Event types in the sequential family: typed histories, per-type loss weights, target types.

A view, a bookmark, a cart-add and a purchase are different signals (docs/design.md, "Only
purchases count"). With :class:`EventConfig` a history is written with one short marker per
event, ``"viewed <item_3> carted <item_5> bought <item_7>"``, the markers being templates of
the ``event`` family (one per event type and language, so they are data like every prompt);
each training example's loss weight is the weight of its *target* event's type; and only
events of chosen types become training targets (e.g. purchases), while events of every type
still appear in the histories.

In an ``event`` template, ``source`` writes one history entry (``{item}`` is the id token)
and ``target`` names the event type it is for.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from lmrec.data.schema import EventType, Interaction
from lmrec.data.split import Split
from lmrec.indexing import ItemIndex
from lmrec.prompts.templates import Template, TemplateSet
from lmrec.tasks.base import Example, PromptConfig
from lmrec.tasks.sequential import history_text

EVENT_FAMILY = "event"

__all__ = [
    "EVENT_FAMILY",
    "EventConfig",
    "TypedPair",
    "event_markers",
    "marker_words",
    "parse_event_weights",
    "typed_examples",
    "typed_history_text",
    "typed_pairs",
    "typed_prompt",
    "without_item",
]


def _event_order(value: str) -> int:
    return list(EventType).index(EventType(value))


@dataclass(frozen=True)
class EventConfig:
    """How event types enter the sequential family (everything off by default).

    typed: write each history event with a one-word marker of its type (``viewed``,
        ``saved``, ``carted``, ``bought``; Arabic markers for Arabic templates).
    weights: loss weight of a training example by the type of its target event, as
        ``(type, weight)`` pairs (a mapping is accepted too); unlisted types weigh 1.0.
    targets: event types that may be training targets (empty = every type). Histories
        still show events of every type.
    unseen_targets: drop the target item's own earlier events from its history (training
        pairs and validation prompts), so the model learns to name items not yet in the
        history, which is what ``exclude_seen`` inference asks of it: a purchase is then
        learnt from what came before that item's view and cart-add, not copied from them.
    """

    typed: bool = False
    weights: tuple[tuple[str, float], ...] = ()
    targets: tuple[str, ...] = ()
    unseen_targets: bool = False

    def __post_init__(self) -> None:
        pairs = self.weights.items() if isinstance(self.weights, Mapping) else self.weights
        weights = {EventType.parse(t).value: float(w) for t, w in pairs}
        if any(w < 0 for w in weights.values()):
            raise ValueError("event weights must be non-negative")
        ordered = tuple(sorted(weights.items(), key=lambda kv: _event_order(kv[0])))
        targets = {EventType.parse(t).value for t in self.targets}
        object.__setattr__(self, "weights", ordered)
        object.__setattr__(self, "targets", tuple(sorted(targets, key=_event_order)))

    @property
    def active(self) -> bool:
        """Whether any option differs from the untyped, unweighted default."""
        return self != EventConfig()

    def weight(self, event: EventType | str) -> float:
        return dict(self.weights).get(EventType.parse(event).value, 1.0)

    def is_target(self, event: EventType | str) -> bool:
        return not self.targets or EventType.parse(event).value in self.targets


def parse_event_weights(text: str) -> tuple[tuple[str, float], ...]:
    """``"view=0.2,cart=0.5"`` -> ``(("view", 0.2), ("cart", 0.5))`` (types read leniently)."""
    pairs = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        name, sep, value = part.partition("=")
        if not sep:
            raise ValueError(f"event weight {part!r} is not TYPE=WEIGHT")
        pairs.append((EventType.parse(name).value, float(value)))
    return tuple(pairs)


def event_markers(templates: TemplateSet, language: str) -> dict[EventType, Template]:
    """The ``event`` template of each event type in ``language``; a missing type is an error."""
    markers = {
        EventType.parse(t.target): t for t in templates.select(EVENT_FAMILY, language, unseen=None)
    }
    missing = [e.value for e in EventType if e not in markers]
    if missing:
        raise LookupError(f"no {EVENT_FAMILY!r} template in {language!r} for {missing}")
    return markers


def marker_words(templates: TemplateSet) -> list[str]:
    """The marker word of every ``event`` template, each once, in template order. A scratch
    model adds them to its vocabulary as whole tokens: its unigram tokenizer, trained on
    templates and item text where each marker occurs once, would cut them into pieces,
    yet they are the most frequent words of a typed prompt."""
    events = [t for t in templates.templates if t.family == EVENT_FAMILY]
    words = [t.source.replace("{item}", " ").strip() for t in events]
    return list(dict.fromkeys(w for w in words if w))


def typed_history_text(
    items: Sequence[str],
    events: Sequence[EventType | str] | None,
    index: ItemIndex,
    markers: Mapping[EventType, Template],
    max_history: int,
) -> str:
    """The most recent ``max_history`` known events, oldest first, each as marker + id token.
    Without ``events`` every entry reads as a purchase (as an untyped log is)."""
    types = [EventType.parse(e) for e in events] if events is not None else None
    if types is not None and len(types) != len(items):
        raise ValueError(f"{len(types)} event types for {len(items)} history items")
    kinds = types or [EventType.PURCHASE] * len(items)
    known = [(i, e) for i, e in zip(items, kinds, strict=True) if i in index]
    if max_history > 0:
        known = known[-max_history:]
    return " ".join(markers[e].render({"item": index.render(i)})[0] for i, e in known)


def typed_prompt(
    items: Sequence[str],
    events: Sequence[EventType | str] | None,
    index: ItemIndex,
    template: Template,
    templates: TemplateSet,
    max_history: int,
) -> str:
    """A sequential prompt whose history carries event markers in the template's language."""
    markers = event_markers(templates, template.language)
    history = typed_history_text(items, events, index, markers, max_history)
    source, _ = template.render({"history": history, "target": ""})
    return source


def without_item(events: Sequence[Interaction], item: str) -> list[Interaction]:
    """``events`` minus those on ``item`` (the ``unseen_targets`` rule)."""
    return [x for x in events if x.item != item]


@dataclass(frozen=True)
class TypedPair:
    """A training pair: the history's items and event types, the target and its type."""

    items: tuple[str, ...]
    events: tuple[EventType, ...]
    target: str
    event: EventType


def typed_pairs(
    split: Split, config: EventConfig, max_targets_per_user: int = 0
) -> list[TypedPair]:
    """(history, next event) for every training position whose event type is a target type;
    ``max_targets_per_user`` keeps each user's most recent such positions. Pairs whose history
    is empty (after ``unseen_targets``) are skipped. Only training events are used."""
    pairs = []
    for events in split.train.values():
        positions = [t for t in range(1, len(events)) if config.is_target(events[t].event)]
        if max_targets_per_user > 0:
            positions = positions[-max_targets_per_user:]
        for t in positions:
            target = events[t]
            history = events[:t]
            if config.unseen_targets:
                history = without_item(history, target.item)
            if not history:
                continue
            pairs.append(
                TypedPair(
                    tuple(x.item for x in history),
                    tuple(x.event for x in history),
                    target.item,
                    target.event,
                )
            )
    return pairs


def typed_examples(
    pairs: Iterable[TypedPair],
    index: ItemIndex,
    templates: TemplateSet,
    prompts: PromptConfig,
    config: EventConfig,
    rng: random.Random,
) -> list[Example]:
    """Render pairs with seen sequential templates (one drawn per pair); markers only when
    ``config.typed``; each example weighted by its target's event type."""
    seen = templates.select("sequential", prompts.language, unseen=False)
    markers = event_markers(templates, prompts.language) if config.typed else None
    examples = []
    for pair in pairs:
        template = rng.choice(seen)
        if markers is not None:
            history = typed_history_text(
                pair.items, pair.events, index, markers, prompts.max_history
            )
        else:
            history = history_text(pair.items, index, prompts.max_history)
        source, answer = template.render({"history": history, "target": index.render(pair.target)})
        examples.append(
            Example(source, answer, "sequential", template.id, config.weight(pair.event))
        )
    return examples
