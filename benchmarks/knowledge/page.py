"""The results page: the main rows with their ratio to SASRec, head / torso / tail, cold start."""

from __future__ import annotations

from benchmarks import harness
from benchmarks.knowledge.measure import EXCLUDED, THIRDS
from lmrec.recommenders.presets import RECOMMENDED

SASREC = "sasrec"


def _ratio(value: float, reference: float | None) -> str:
    return f"{value / reference:.2f}" if reference else "-"


def main_table(d: dict) -> list[str]:
    sasrec = next((r for r in d["rows"] if r["model"] == SASREC), None)
    header = ["recommender", "NDCG@10", "HR@10", "NDCG@10 (hist. excl.)", "HR@10 (hist. excl.)"]
    header += ["NDCG@10 / SASRec", "excl. / SASRec", "fit s", "epochs (best)"]
    body = []
    for r in d["rows"]:
        epochs = f"{r['epochs_run']} ({r['best_epoch']})" if "epochs_run" in r else "-"
        body.append(
            [
                r["recommender"],
                *(f"{r[m]:.4f}" for m in ("NDCG@10", "HR@10")),
                *(f"{r[m + EXCLUDED]:.4f}" for m in ("NDCG@10", "HR@10")),
                _ratio(r["NDCG@10"], sasrec and sasrec["NDCG@10"]),
                _ratio(r["NDCG@10" + EXCLUDED], sasrec and sasrec["NDCG@10" + EXCLUDED]),
                f"{r['fit_seconds']:.0f}",
                epochs,
            ]
        )
    return harness.markdown_table(header, "lrrrrrrrr", body)


def thirds_table(d: dict) -> list[str]:
    header = ["recommender"]
    for name in THIRDS:
        g = d["thirds"][name]
        counts = f"{g['fewest_training_events']}-{g['most_training_events']}"
        header.append(f"{name} ({g['events']} events, targets trained on {counts}x)")
    body = [
        [r["recommender"]]
        + [
            f"{r['thirds'][t]['NDCG@10']:.4f} ({r['thirds'][t]['NDCG@10' + EXCLUDED]:.4f})"
            for t in THIRDS
        ]
        for r in d["rows"]
    ]
    return harness.markdown_table(header, "lrrr", body)


def cold_table(cold: dict) -> list[str]:
    seeds = cold["seeds"]
    header = ["route", *(f"seed {s}: HR@10 / NDCG@10 (hits / events)" for s in seeds)]
    header += ["mean HR@10", "mean NDCG@10", "mean hits"]
    means = {m["route"]: m for m in cold["means"]}
    body = []
    for route, label in cold["routes"].items():
        cells = [label]
        for s in seeds:
            row = next((r for r in cold["rows"] if r["route"] == route and r["seed"] == s), None)
            cells.append(
                f"{row['HR@10']:.4f} / {row['NDCG@10']:.4f} "
                f"({row['hits']} / {row['cold_test_events']})"
                if row
                else "not run"
            )
        m = means.get(route)
        cells += (
            [f"{m['HR@10']:.4f}", f"{m['NDCG@10']:.4f}", f"{m['hits']:.1f}"] if m else ["-"] * 3
        )
        body.append(cells)
    return harness.markdown_table(header, "l" + "r" * (len(header) - 1), body)


def markdown(result: dict) -> str:
    (d,) = result["datasets"]
    lines = harness.timed_head(f"Language knowledge in the recommender: {d['data']}", result)
    lines += [
        f"Data: {d['split']}.",
        "",
        f"Protocol: {result['protocol']}",
        "",
        f"Item text: {result['item_text_source']}; template `{result['item_text']['template']}`, "
        f"encoder `{result['item_text']['encoder']}`"
        + (
            "; with the category field as tags beside the text (ItemTextConfig.tags: for the "
            "Amazon sets, S3-Rec's attribute ids from categories and brand, *_item2attributes.json)"
            if result["item_text"].get("tags")
            else ""
        )
        + f". SASRec: hidden {result['sasrec']['hidden']},"
        f" dropout {result['sasrec']['dropout']:g}, lr {result['sasrec']['lr']:g}, from "
        f"{result['sasrec']['source']}. LM: the recommended configuration"
        + ("" if result["config"]["model"] == RECOMMENDED["model"] else " with another model")
        + " "
        f"({result['config']['model']}, objective {result['config']['objective']}, dropout "
        f"{result['config']['dropout']}, at most {result['config']['train']['epochs']} epochs, "
        f"patience {result['config']['train']['patience']}).",
        "",
        "## All test events",
        "",
        *main_table(d),
        "",
        "## NDCG@10 by the target's training count (history kept; excluded in brackets)",
        "",
        *thirds_table(d),
        "",
        "## Cold start: items held out of training",
        "",
        f"Protocol: {d['coldstart']['protocol']}",
        "",
        *cold_table(d["coldstart"]),
    ]
    if d["missing"]:
        lines += ["", "Not run yet (run again to resume): " + ", ".join(d["missing"]) + "."]
    return "\n".join(lines) + "\n"
