"""Runs of several seeds side by side (``--summarize``)."""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from benchmarks.languages.scores import TARGET_RATIO
from benchmarks.languages.tasks import LANGUAGES


def _ratio_cell(ratio: float | None, per_run: Sequence[float]) -> str:
    if ratio is None:
        return "-"
    return f"{ratio:.2f} ({min(per_run):.2f}-{max(per_run):.2f})"


def _seed(run: dict) -> int:
    """A run's seed: recorded in its JSON, or else read from its command (default 0)."""
    if "seed" in run:
        return int(run["seed"])
    found = re.search(r"--seed[ =](\d+)", run["command"])
    return int(found.group(1)) if found else 0


def _epochs(run: dict, data: str, model: str) -> int | None:
    """The training epochs behind a model's results in a run (None in files that lack them)."""
    return run["runs"][data][model]["ar"].get("epochs")


def _one_per_seed(runs: list[dict], data: str, model: str, keys: Sequence[str]) -> list[dict]:
    """The runs that measured `model` on `data`, one per seed: a later run of a seed already
    counted must have the same results on `keys` (it repeats the experiment; its timings may
    differ) and is dropped; different results under one seed mean different settings, which
    one summary must not mix."""
    kept: dict[int, dict] = {}

    def results(run: dict) -> dict:
        return {lang: {k: m[k] for k in keys} for lang, m in run["runs"][data][model].items()}

    for run in runs:
        seed = _seed(run)
        if seed not in kept:
            kept[seed] = run
        elif results(kept[seed]) != results(run):
            raise ValueError(
                f"{data} {model}: seed {seed} measured twice with different results "
                f"({kept[seed]['command']!r} and {run['command']!r}); summarize one of them"
            )
    return list(kept.values())


def summarize(paths: Sequence[Path], out: Path, stem: str) -> str:
    """Runs of several seeds side by side: each metric's mean over the runs per language, and
    the Arabic/English ratio of those means (with the lowest and highest per-run ratio)."""
    runs = [json.loads(Path(p).read_text(encoding="utf-8")) for p in paths]
    keys = ("hr1", "hr5", "distinct_top1", "top1_entropy_bits")
    lines = [
        "# Arabic and English side by side, over seeds (issue 6)",
        "",
        "Runs (one per seed; the seed draws the T5-P5 folds, the simulated shop, the candidate "
        "lists and the model's initialisation, the same for both languages):",
        "",
        *[f"- `{r['command']}`" for r in runs],
        "",
        "Protocol of each run: " + runs[0]["protocol"],
        "",
        "Mean over the runs, Arabic / English, and the ratio of the means (lowest-highest "
        "per-run ratio in brackets). Arabic reaches 90% when every ratio of means is at least "
        "0.9. A row over fewer runs than listed says how many. A model that two runs of one "
        "seed both measured (with the same results) counts once. A model trained for "
        "different numbers of epochs in different runs gets a row per number, labelled with it "
        "(the protocol above is the first run's; each command gives its own epochs).",
        "",
        "| data | model | HR@1 ar / en | HR@5 ar / en | distinct@1 ar / en | entropy@1 ar / en "
        "| ratio HR@1 | ratio HR@5 | ratio distinct | ratio entropy | Arabic reaches 90% |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    summary: dict[str, dict[str, dict]] = {}
    measured: dict[tuple[str, str, int | None], list[dict]] = {}  # (data, model, epochs)
    for r in runs:
        for d, models in r["runs"].items():
            for m in models:
                measured.setdefault((d, m, _epochs(r, d, m)), []).append(r)
    trained_for = Counter((d, m) for d, m, _ in measured)
    for (data, model, epochs), measured_runs in measured.items():
        having = _one_per_seed(measured_runs, data, model, keys)
        # One row per training length, labelled with it where a model has several.
        label = f"{model}, {epochs} epochs" if trained_for[data, model] > 1 else model
        by = {
            lang: {k: [r["runs"][data][model][lang][k] for r in having] for k in keys}
            for lang in LANGUAGES
        }
        mean = {lang: {k: sum(v) / len(v) for k, v in by[lang].items()} for lang in by}
        ratio = {k: mean["ar"][k] / mean["en"][k] if mean["en"][k] else None for k in keys}
        per_run = {
            k: [a / e for a, e in zip(by["ar"][k], by["en"][k], strict=True) if e] for k in keys
        }
        ok = all(ratio[k] is None or ratio[k] >= TARGET_RATIO for k in keys[:3])
        summary.setdefault(data, {})[label] = {
            "mean": mean,
            "ratio": ratio,
            "ok": ok,
            "runs": len(having),
        }
        count = len(having)
        runs_cell = "" if count == len(runs) else f" ({count} run{'s' if count > 1 else ''})"
        lines.append(
            f"| {data} | {label}{runs_cell} "
            + "".join(f"| {mean['ar'][k]:.3f} / {mean['en'][k]:.3f} " for k in ("hr1", "hr5"))
            + f"| {mean['ar']['distinct_top1']:.1f} / {mean['en']['distinct_top1']:.1f} "
            f"| {mean['ar']['top1_entropy_bits']:.2f} / {mean['en']['top1_entropy_bits']:.2f} "
            + "".join(f"| {_ratio_cell(ratio[k], per_run[k])} " for k in keys)
            + f"| {'yes' if ok else 'NO'} |"
        )
    text = "\n".join(lines) + "\n"
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{stem}.md").write_text(text, encoding="utf-8")
    (out / f"{stem}.json").write_text(
        json.dumps(
            {"runs": [str(p) for p in paths], "summary": summary}, indent=1, ensure_ascii=False
        ),
        encoding="utf-8",
    )
    return text
