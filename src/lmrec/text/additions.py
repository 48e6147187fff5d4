"""Text vectors for items added to a catalogue after its vectors were made: each new item gets
its own vector from its own text, in the space of the vectors already made, which do not move
(a model that learned from them keeps its meaning)."""

from __future__ import annotations

import string

import numpy as np

from lmrec.data.schema import Catalog, Item
from lmrec.text.encoders import (
    TFIDF,
    ItemTextEmbeddings,
    encode_texts,
    item_texts,
    texts_hash,
    unit_rows,
)
from lmrec.text.tags import keyed_texts, with_tags
from lmrec.text.tfidf import fit_tfidf

__all__ = ["extend_embeddings", "has_text"]


def has_text(item: Item, template: str) -> bool:
    """Whether a field of ``template`` other than the id has a value for ``item`` (without one
    the item's text is its bare id, which says nothing about it)."""
    fields = {name for _, name, _, _ in string.Formatter().parse(template) if name}
    return any((getattr(item, name) or "").strip() for name in fields - {"id"})


def extend_embeddings(
    embeddings: ItemTextEmbeddings, catalog: Catalog, new: Catalog
) -> ItemTextEmbeddings:
    """``embeddings`` with one more row per item of ``new``, made by the same encoder and
    template; ``catalog`` holds the items ``embeddings`` already covers (with the texts they
    were made from: anything else is an error). A sentence encoder embeds each text on its own;
    TF-IDF is fitted again, with the same seed, on the texts it was first fitted on (which gives
    back its vocabulary and SVD basis) and the new texts are folded into that space."""
    known = list(embeddings.items)
    tagged = embeddings.tags is not None
    old = Catalog(catalog[i] for i in known)
    texts = item_texts(old, embeddings.template)
    if texts_hash(known, keyed_texts(texts, list(old.values()), tagged)) != embeddings.text_hash:
        raise ValueError("the catalogue's texts are not the ones these text vectors were made from")
    added = item_texts(new, embeddings.template)
    fitted = embeddings.fitted or len(known)
    if embeddings.encoder == TFIDF:
        _, fold_in = fit_tfidf(texts[:fitted], embeddings.seed)
        vectors = unit_rows(fold_in(added))
    else:
        vectors = encode_texts(added, embeddings.encoder, embeddings.seed)
    if tagged:  # the known tags only: a tag no trained item had has no column to learn from
        vectors = with_tags(vectors, list(new.values()), embeddings.tags)
    items = [*known, *new]
    return ItemTextEmbeddings(
        tuple(items),
        np.concatenate([embeddings.vectors, vectors]),
        embeddings.requested,
        embeddings.encoder,
        embeddings.template,
        texts_hash(items, keyed_texts([*texts, *added], [*old.values(), *new.values()], tagged)),
        embeddings.seed,
        fitted,
        embeddings.tags,
    )
