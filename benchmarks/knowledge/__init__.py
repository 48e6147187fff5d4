"""Issue 24 item 5: what language knowledge adds. One run per data set compares popularity,
item-kNN, ALS, SASRec (full CE) and the recommended language model (:data:`lmrec.recommenders.
presets.RECOMMENDED`) reading items by id only, by text only and by both, plus (``--hybrid``)
item-kNN candidates re-ranked by the LM with ids+text; NDCG@10 is also split by how often the
target item was trained on (head / torso / tail), and a cold-start part holds 10 % of the items
out of training and asks who still finds them.

Protocol: :data:`benchmarks.knowledge.measure.PROTOCOL` and
:data:`benchmarks.knowledge.coldstart.PROTOCOL`, written into every result file.

Item text (``--item-text``, an :class:`lmrec.text.encoders.ItemTextConfig` encoder; the
template per data set is :data:`benchmarks.knowledge.models.TEMPLATES`): Amazon Beauty and
Sports read the short item name that ``harness.load`` takes from
``item_generative_indexing_phase_0.txt``; ML-100K reads ``{name}, {description}. {category}``,
which the RecBole reader fills as "Toy Story, released 1995. Animation, Children's, Comedy"
(title; ``released <year>``; genres); the built-in shop reads name ; category ; description.

IDGenRec's phase-0 text ids. What the data READMEs say (``../shared/data/amazon_beauty/README.md``
and ``amazon_sports/README.md``): the file is a byte-identical copy of agiresearch/IDGenRec
(commit a297185) ``rec_datasets/<Beauty|Sports>/item_generative_indexing_phase_0.txt``, one
"short lowercase name" per ASIN, "a machine-generated 'textual ID' (IDGenRec phase 0) made from
the item title and metadata", not the full title, covering every item (unique names on Beauty).
Neither README says whether phase 0 precedes training on interactions. IDGenRec's own README
says only that "the initially generated IDs (e.g. ..._phase_0.txt) are also provided". Its code
(``src/utils/dataset_utils.py``, ``generative_indexing_rec``) writes the phase-0 file, when it
is absent, by running the ID generator over ``item_plain_text.txt`` (item text alone), and
``src/main_generative.py`` builds that generator from the off-the-shelf tag generator
``nandakishormpai/t5-small-machine-articles-tag-generation`` (unless ``--id_model_path`` loads
another) before any recommender or ID training starts; later phases (1, 2, ...) are regenerated
by the generator after it has been trained on interactions. So by the code, phase 0 is made from
item text with no training on these interactions. Not found: any statement of the exact command
and generator weights that produced the shipped files, so that is inferred from the code path,
not verified.

Every model is one resumable row (``harness.RowCache``): a stopped run resumes at the next
model, ``--models`` runs a subset and ``--rows N`` stops after N new rows, so a full data set
runs in pieces of under two hours (``benchmarks/README.md`` and :mod:`.cli` list the pieces).

    .venv/bin/python -m benchmarks.knowledge --quick                  # the built-in shop
    .venv/bin/python -m benchmarks.knowledge --dataset beauty --models popularity,item-knn,als

Writes benchmarks/results/knowledge/knowledge-<data>[-quick].{json,md}.
"""
