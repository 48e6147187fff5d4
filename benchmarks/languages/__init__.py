"""Issue 6's benchmark: does lmrec work the same in Arabic as in English, without collapse?

Data sets, each in Arabic and in English under the same split and seed:

- **t5p5**: the shared English/Arabic sports set (``../shared/data/sports_equipment_t5p5``), the
  two files aligned row by row. Rows have no user: each row is one history -> next item. The
  rows are cut into 5 folds by a seeded shuffle, the *same* folds in both languages, and each
  fold is tested once by a model trained on the other four, so all 121 rows are test rows.
  Each language has its own catalogue of names parsed from its own file (``lmrec.data.t5p5``).
  The history is not excluded (the translated Arabic rows sometimes name the target in it).
- **t5p5-hand** (``--datasets t5p5-hand``): the same folds and English rows, with the Arabic
  side the English rows renamed by hand-written Arabic names (``lmrec.data.t5p5.ARABIC_NAMES``),
  so both languages have the same items and interactions and a gap is the language's alone.
- **shop**: the built-in sports shop (``make_sportshop(n_users).select(first_only=True)``),
  leave-one-out, with each item's English and Arabic name. History excluded.

All: the named-items model lists 1 true + N-1 sampled candidates outside the history in its
prompt (drawn alike in both languages) and may only answer one of them; the id model ranks all
items ("ids") and scores the same candidate lists ("ids-sampled").

Two models: the named-items model (``lmrec.recommenders.named``: names in, a name out, decoded
through a trie
of the names) and the id model (``lmrec.recommenders.lm.LMRecommender``: language-free id tokens,
only the
template language differs). Both are scratch T5s (``scratch:tiny``) with tokenizers trained on
the data. Reported per run: HR@1, HR@5, the number of distinct items at rank 1 across the test
histories and the entropy of that rank-1 distribution (bits), and the unknown-token rate and
tokens per name of the tokenizer on the catalogue names; per pair, the Arabic/English ratios
and whether Arabic reaches 90% of English (distinct items, HR@1, HR@5).

Controls and a hybrid (``--models``): item-kNN, which never reads a name; name overlap, which
reads only names; and ``named+item-knn``, the named model's score of each candidate fused with
item-kNN's (:func:`lmrec.recommenders.hybrid.fuse`, fixed ``--fuse-weight``).

    .venv/bin/python -m benchmarks.languages            # the run of record (~45 min, 1 thread)
    .venv/bin/python -m benchmarks.languages --quick    # a smoke run

Writes benchmarks/results/languages/languages[-quick].{json,md}. Each model's answers on each
fold are cached as they finish, so an interrupted run resumes there. The parts: ``tasks`` (the
data), ``models`` (the two language models), ``controls``, ``scores``, ``report``, ``summary``
(``--summarize``) and ``cli``.
"""
