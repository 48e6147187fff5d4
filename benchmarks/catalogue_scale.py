"""Issue 9's scaling question: does generation stay fast as the catalogue grows from 1k to 1M
items?

For synthetic catalogues of 1k, 10k, 100k and 1M items it measures, in one run:
- the item trie: build time and the memory of its arrays;
- trie-constrained beam search (top-10, 10 beams) latency per user, with a scratch:tiny T5;
- retrieval + LM ranking: a FAISS index over item vectors (exact flat and HNSW) proposes 50
  candidates, the LM scores them in one teacher-forced pass (index build time, memory,
  latency per user for each stage);
- the named-items prompt that lists the whole inventory: how many tokens it needs (measured on
  the built-in shop's names), against a 512-token budget.

Item codes are three tokens, each level with ceil(items^(1/3)) values, so the id vocabulary
grows only as the cube root of the catalogue (compact ids: 300 tokens for 1M items). Item
vectors are random unit vectors (64-d): the costs do not depend on what they mean. The model
is untrained: decoding cost does not depend on training. One torch thread.

    .venv/bin/python -m benchmarks.catalogue_scale            # 1k, 10k, 100k, 1M
    .venv/bin/python -m benchmarks.catalogue_scale --quick    # 1k, 10k
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # also run as a file

import faiss
import numpy as np
import psutil

from benchmarks import harness
from lmrec.backbone.model import build_scratch_model
from lmrec.backbone.tokenizer import add_id_tokens, build_tokenizer
from lmrec.data.sportshop import load_catalog
from lmrec.decoding.beam import constrained_beam_search, score_candidates
from lmrec.decoding.trie import ItemTrie
from lmrec.prompts.templates import load_templates
from lmrec.recommenders.retrieval import EmbeddingIndex

STUDY = "catalogue_scale"
LEVELS = "abc"


def level_tokens(size: int) -> list[str]:
    return [f"<{lv}_{v}>" for lv in LEVELS for v in range(size)]


def item_codes(n: int, size: int) -> list[tuple[str, ...]]:
    return [
        tuple(f"<{lv}_{(i // size**d) % size}>" for d, lv in enumerate(LEVELS)) for i in range(n)
    ]


def rss_mb() -> float:
    return psutil.Process().memory_info().rss / 2**20


def per_user_ms(fn, users: int, repeats: int) -> float:
    fn()  # warm-up
    started = time.perf_counter()
    for _ in range(repeats):
        fn()
    return (time.perf_counter() - started) / (repeats * users) * 1000


def named_prompt_tokens(tokenizer) -> dict:
    names = [item.name for item in load_catalog().values()]
    counts = [len(tokenizer(n, add_special_tokens=False).input_ids) + 1 for n in names]
    per_name = sum(counts) / len(counts)  # +1: the separator between names
    return {"tokens_per_name": per_name, "items_fitting_512": int(512 // per_name)}


def measure(n: int, corpus: list[str], template, named: dict, rng, args) -> dict:
    """One catalogue size: trie, beam search, and each retrieval index with LM ranking."""
    size = math.ceil(n ** (1 / 3) - 1e-9)
    tokenizer = build_tokenizer(corpus, 1000)
    add_id_tokens(tokenizer, level_tokens(size))
    model = build_scratch_model("scratch:tiny", tokenizer).eval()
    items = [f"i{r}" for r in range(n)]
    codes = item_codes(n, size)
    vocab = tokenizer.get_vocab()
    sequences = {item: [vocab[t] for t in code] for item, code in zip(items, codes, strict=True)}
    before = rss_mb()
    started = time.perf_counter()
    trie = ItemTrie(sequences)
    trie_build = time.perf_counter() - started
    trie_rss = rss_mb() - before

    histories = [list(rng.choice(n, size=20, replace=False)) for _ in range(args.users)]
    histories = [[items[r] for r in h] for h in histories]
    prompts = [
        template.render({"history": " ".join(" ".join(codes[int(i[1:])]) for i in h),
                         "target": ""})[0]
        for h in histories
    ]  # fmt: skip

    def beam():
        return constrained_beam_search(model, tokenizer, trie, prompts, k=10, exclude=histories)

    beam_ms = per_user_ms(beam, args.users, args.repeats)
    found = beam()
    assert all(len(r) == 10 and all(i in trie for i, _ in r) for r in found)

    vectors = rng.normal(size=(n, args.dim)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    queries = rng.normal(size=(args.users, args.dim)).astype(np.float32)
    row = {
        "items": n,
        "tokens_per_level": size,
        "trie_build_s": trie_build,
        "trie_mb": trie.nbytes() / 2**20,
        "trie_rss_mb": trie_rss,
        "beam_ms_per_user": beam_ms,
    }
    for kind in ("exact", "hnsw") if n <= args.hnsw_max else ("exact",):
        before = rss_mb()
        started = time.perf_counter()
        index = EmbeddingIndex(items, vectors, kind=kind)
        row[f"{kind}_build_s"] = time.perf_counter() - started
        row[f"{kind}_rss_mb"] = rss_mb() - before

        def retrieve(index=index):
            return index.search(queries, args.candidates, exclude=histories)

        row[f"{kind}_retrieve_ms_per_user"] = per_user_ms(retrieve, args.users, args.repeats)
        candidates = [[i for i, _ in r] for r in retrieve()]

        def rank(candidates=candidates):
            return score_candidates(model, tokenizer, trie, prompts, candidates)

        row[f"{kind}_rank_ms_per_user"] = per_user_ms(rank, args.users, args.repeats)
        del index
    row["named_prompt_tokens"] = n * named["tokens_per_name"]
    return row


def main(argv: Sequence[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    harness.add_common_options(p, STUDY, quick="1k and 10k items only", data=False)
    p.add_argument("--sizes", default="1000,10000,100000,1000000")
    p.add_argument("--users", type=int, default=32, help="users decoded together")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--candidates", type=int, default=50)
    p.add_argument("--dim", type=int, default=64)
    p.add_argument(
        "--hnsw-max",
        type=int,
        default=100000,
        help="build HNSW only up to this many items (its build grows ~n log n: ~75 s at 100k)",
    )
    args = p.parse_args(argv)
    harness.setup(args)
    faiss.omp_set_num_threads(args.threads)
    sizes = [1000, 10000] if args.quick else [int(s) for s in args.sizes.split(",")]

    templates = load_templates()
    template = templates.select("sequential", "en", unseen=False)[0]
    corpus = [t.source for t in templates.templates]
    corpus += [i.name for i in load_catalog().values()]
    named = named_prompt_tokens(build_tokenizer(corpus, 1000))
    rng = np.random.default_rng(args.seed)
    rows = []
    for n in sizes:
        rows.append(measure(n, corpus, template, named, rng, args))
        print(json.dumps(rows[-1]), flush=True)
    result = {
        "command": harness.command_line(STUDY, argv),
        "machine": harness.machine(),
        "named_items": named,
        "protocol": (
            f"{args.users} users decoded together, history of 20 items (60 id tokens) excluded, "
            f"top-10 with 10 beams; retrieval proposes {args.candidates} candidates, "
            f"{args.dim}-d vectors; latency = wall time / users, mean of {args.repeats} runs"
        ),
        "rows": rows,
    }
    harness.write_results(args.out, harness.stem(args), result, markdown(result), plot)


def markdown(meta: dict) -> str:
    rows = meta["rows"]
    named = meta["named_items"]
    lines = [
        "# Generation cost as the catalogue grows (synthetic catalogues)",
        "",
        f"Command: `{meta['command']}`  ",
        f"Machine: {meta['machine']}  ",
        f"Protocol: {meta['protocol']}.",
        "",
        "| items | trie build s | trie MB | beam search ms/user | flat index build s "
        "| flat retrieve ms/user | HNSW build s | HNSW retrieve ms/user | LM ranks 50 ms/user "
        "| whole-inventory prompt tokens |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        hnsw = "hnsw_build_s" in r
        lines.append(
            f"| {r['items']:,} | {r['trie_build_s']:.3f} | {r['trie_mb']:.1f} "
            f"| {r['beam_ms_per_user']:.1f} | {r['exact_build_s']:.3f} "
            f"| {r['exact_retrieve_ms_per_user']:.2f} "
            + (f"| {r['hnsw_build_s']:.2f} " if hnsw else "| - ")
            + (f"| {r['hnsw_retrieve_ms_per_user']:.3f} " if hnsw else "| - ")
            + f"| {r['exact_rank_ms_per_user']:.1f} | {r['named_prompt_tokens']:,.0f} |"
        )
    first, last = rows[0], rows[-1]
    ten_k = next((r for r in rows if r["items"] == 10000), first)
    lines += [
        "",
        f"Beam search latency at {last['items']:,} items is "
        f"{last['beam_ms_per_user'] / ten_k['beam_ms_per_user']:.2f}x that at "
        f"{ten_k['items']:,} items: each step costs the same model work (10 beams, a vocabulary "
        "that grows only with the cube root of the catalogue) and the trie's tensor walk costs "
        "O(allowed tokens), not O(items).",
        "",
        "HNSW ('-') is built only up to the --hnsw-max catalogue size: its build time grows "
        "about n log n. The LM-ranking column ranks the flat index's 50 candidates.",
        "",
        f"Named-items prompts: a name costs {named['tokens_per_name']:.1f} tokens with the "
        f"built-in shop's tokenizer, so a 512-token prompt lists at most "
        f"{named['items_fitting_512']} items; the last column is what listing the whole "
        "inventory would cost.",
    ]
    return "\n".join(lines) + "\n"


def plot(result: dict, path: Path) -> None:
    rows = result["rows"]
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    series = {
        "trie beam search (ms/user)": "beam_ms_per_user",
        "flat FAISS retrieve (ms/user)": "exact_retrieve_ms_per_user",
        "HNSW retrieve (ms/user)": "hnsw_retrieve_ms_per_user",
        "LM ranks 50 candidates (ms/user)": "exact_rank_ms_per_user",
        "trie build (s)": "trie_build_s",
    }
    for label, key in series.items():
        points = [(r["items"], r[key]) for r in rows if key in r]
        ax.plot(*zip(*points, strict=True), marker="o", label=label)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("catalogue items")
    ax.set_ylabel("time")
    ax.set_title("Generation cost vs catalogue size (1 CPU thread)")
    ax.legend(fontsize=8)
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


if __name__ == "__main__":
    main()
