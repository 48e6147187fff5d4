"""Item text in the language model's item representation (``LMConfig.item_representation``,
:mod:`lmrec.backbone.itemtext`), mixed into :class:`~lmrec.recommenders.lm.LMRecommender`: the
catalogue's text vectors installed at set-up, saved beside the model and installed again on
load, and :meth:`ItemTextMethods.add_items`, which gives a text-mode model new items after
training, each with its own vector from its own text.

The text vectors come from the catalogue alone (``LMConfig.index.item_text``: encoder and
template; seeded by the index seed, as the semantic index is), never from interactions.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Self

import numpy as np
import torch

from lmrec.backbone.itemtext import (
    ITEM_TEXT_FILE,
    install_item_text,
    load_item_text,
    remove_item_text,
    save_item_text,
)
from lmrec.backbone.tokenizer import add_id_tokens
from lmrec.data.schema import Catalog, Item
from lmrec.decoding.trie import ItemTrie
from lmrec.indexing import single_code
from lmrec.text.additions import extend_embeddings, has_text
from lmrec.text.encoders import ItemTextEmbeddings, embed_catalog

__all__ = ["ITEM_TEXT_STEM", "NEIGHBOURS", "ItemTextMethods", "text_neighbour_weights"]

ITEM_TEXT_STEM = "item_text"  # the text vectors' cache in a model directory
NEIGHBOURS = 1
"""Known items whose id rows a new item's id row is made of (``"ids+text"``): the nearest one.
An average of several id rows scores the new item at the *mean* of their logits, far below the
likeliest of them: on full Beauty (10 % of items held out, seed 0, ids+text with tags) new
items found 63 of 2,411 test targets with the nearest id row, 7 with ten averaged and 17 with
none (``benchmarks/results/knowledge/cold-variants-beauty-ids+text-tags-seed0.md``)."""


def text_neighbour_weights(new: np.ndarray, known: np.ndarray, k: int) -> torch.Tensor:
    """A (new, known) matrix whose row holds the weights of a new item's ``k`` nearest known
    items by cosine similarity of their text vectors, proportional to that similarity and
    summing to 1 (equal weights where none is positive)."""

    def unit(x: np.ndarray) -> torch.Tensor:
        t = torch.as_tensor(x, dtype=torch.float32)
        return t / t.norm(dim=1, keepdim=True).clamp_min(1e-12)

    similarity = unit(new) @ unit(known).T
    top, where = similarity.topk(min(k, similarity.shape[1]), dim=1)
    top = top.clamp_min(0)
    top = torch.where(top.sum(1, keepdim=True) > 0, top, torch.ones_like(top))
    weights = torch.zeros_like(similarity)
    return weights.scatter_(1, where, top / top.sum(1, keepdim=True))


class ItemTextMethods:
    """The item-text methods of :class:`~lmrec.recommenders.lm.LMRecommender`."""

    item_text: ItemTextEmbeddings | None = None

    def _install_item_text(
        self,
        embeddings: ItemTextEmbeddings | None = None,
        projection: torch.Tensor | None = None,
    ) -> None:
        """With a text mode: embed the catalogue (unless ``embeddings`` are given) and wrap the
        model's embedding and output layer (model, tokenizer, index, catalogue and trie are
        set up). Refuses an index that gives an item more than one token."""
        cfg = self.config
        if cfg.item_representation == "ids":
            return
        longer = [i for i in self.index.items if len(self.index.code(i)) != 1]
        if longer:
            raise ValueError(
                f"item_representation={cfg.item_representation!r} needs one token per item; "
                f"item {longer[0]!r} has code {self.index.code(longer[0])}: use --index random "
                "or sequential with --id-style single"
            )
        if embeddings is None:
            missing = [Item(i) for i in self.index.items if i not in self.catalog]
            embeddings = embed_catalog(
                self.catalog.with_items(missing), cfg.index.item_text, seed=cfg.index.seed
            )
        self.item_text = embeddings
        install_item_text(
            self.model,
            embeddings.rows(self.index.items),
            [self.trie.tokens(i)[0] for i in self.index.items],
            keep_ids=cfg.item_representation == "ids+text",
            seed=cfg.train.seed,
            projection=projection,
            tag_columns=embeddings.tag_columns,
        )

    def _save_item_text(self, out: Path) -> None:
        if self.item_text is not None:
            save_item_text(self.model, out / ITEM_TEXT_FILE)
            self.item_text.save(out, ITEM_TEXT_STEM)

    def _load_item_text(self, src: Path) -> None:
        """Install the saved text vectors again, with the saved projection and id rows."""
        if self.config.item_representation == "ids":
            return
        self._install_item_text(ItemTextEmbeddings.load(src, ITEM_TEXT_STEM))
        load_item_text(self.model, src / ITEM_TEXT_FILE)

    def add_items(self, items: Iterable[Item], neighbours: int = NEIGHBOURS) -> Self:
        """Add catalogue items after training (a text-mode model only): each gets a new id token
        whose vector is the trained projection of its own text (in ``"ids+text"`` plus an id
        row borrowed from the ``neighbours`` known items nearest to it by text, weighted by
        their cosine similarity, as no id row was learned for it; 0: a zero id row, the text
        alone). The items are in the index,
        the trie and the catalogue at once: recommendable, and readable in histories. An item
        already known, one given twice, or one without text is an error, as is an ids-only
        model, which has no way to embed a new item (for that, see
        :class:`~lmrec.recommenders.coldstart.ColdStartRecommender`)."""
        self._require_fitted()
        if self.item_text is None:
            raise ValueError(
                "an ids-only model (item_representation='ids') has no way to embed a new item: "
                "wrap it in ColdStartRecommender (content neighbours), or train with "
                "item_representation 'text' or 'ids+text'"
            )
        if neighbours < 0:
            raise ValueError(f"neighbours must be 0 or more, not {neighbours}")
        new = list(items)
        template = self.item_text.template
        taken: set[str] = set()
        for item in new:
            if item.id in self.index or item.id in self.catalog or item.id in taken:
                raise ValueError(f"item {item.id!r} is already in the catalogue")
            if not has_text(item, template):
                raise ValueError(f"item {item.id!r} has no text to embed (template {template!r})")
            taken.add(item.id)
        if not new:
            return self
        embeddings = extend_embeddings(self.item_text, self.catalog, Catalog(new))
        known = list(self.index.items)
        if neighbours:
            rows = embeddings.rows([i.id for i in new])
            weights = text_neighbour_weights(rows, embeddings.rows(known), neighbours)
        else:  # no id row: the text alone
            weights = torch.zeros(len(new), len(known))
        codes = self._new_codes([i.id for i in new])
        table = remove_item_text(self.model)
        add_id_tokens(self.tokenizer, [code[0] for code in codes.values()])
        size = max(len(self.tokenizer), self.model.get_input_embeddings().num_embeddings)
        self.model.resize_token_embeddings(size, mean_resizing=False)
        self.index = self.index.with_items(codes)
        self.catalog = self.catalog.with_items(new)
        self.trie = ItemTrie.from_index(self.index, self.tokenizer)
        added = torch.tensor([self.trie.tokens(i)[0] for i in codes])
        layers = {id(m.weight): m.weight for m in self._item_layers()}.values()
        with torch.no_grad():
            for weight in layers:
                rows = weight.index_select(0, table.token_ids.to(weight.device))
                weight[added.to(weight.device)] = weights.to(rows) @ rows
        self._install_item_text(embeddings, table.proj.weight.detach())
        return self

    def _item_layers(self):
        return self.model.get_input_embeddings(), self.model.get_output_embeddings()

    def _new_codes(self, items: list[str]) -> dict[str, tuple[str, ...]]:
        """One unused ``<item_n>`` token each, numbered on from the index."""
        vocab = self.tokenizer.get_vocab()
        codes, number = {}, len(self.index)
        for item in items:
            while single_code(number)[0] in vocab:
                number += 1
            codes[item] = single_code(number)
            number += 1
        return codes
