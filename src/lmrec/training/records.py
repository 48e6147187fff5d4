"""What a run leaves for a person to look at: TensorBoard scalars written as training goes
(:class:`ScalarLog`), and in the model directory the per-epoch history as JSON
(:func:`metrics_record`, ``metrics.json``) and as a picture (:func:`plot_history`,
``training.png``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from lmrec.training.config import NDCG10, RefitRecord, TrainResult

__all__ = [
    "METRICS_FILE",
    "PLOT_FILE",
    "ScalarLog",
    "metrics_record",
    "plot_history",
    "scalar_tag",
]

METRICS_FILE = "metrics.json"
PLOT_FILE = "training.png"


def scalar_tag(key: str) -> str:
    """The TensorBoard tag of a history key: ``loss`` -> ``train/loss``, ``valid_ndcg10`` ->
    ``valid/ndcg10`` (TensorBoard groups tags by what precedes the slash)."""
    if key.startswith("valid_"):
        return "valid/" + key.removeprefix("valid_")
    return "train/" + key


class ScalarLog:
    """TensorBoard scalars of one run: every value of each epoch's history record, at the
    epoch's number as the step. Writes nothing when ``log_dir`` is None or ``enabled`` is
    false (the processes of a distributed run other than the first)."""

    def __init__(self, log_dir: str | Path | None, enabled: bool = True):
        self._writer = None
        if log_dir is not None and enabled:
            # Imported here: tensorboard's import costs a second that runs without a log pay.
            from torch.utils.tensorboard import SummaryWriter

            self._writer = SummaryWriter(str(log_dir))

    def epoch(self, record: Mapping[str, float]) -> None:
        """Log one history record (``{"epoch": 3, "loss": ..., "valid_ndcg10": ...}``)."""
        if self._writer is None:
            return
        for key, value in record.items():
            if key != "epoch":
                self._writer.add_scalar(scalar_tag(key), value, int(record["epoch"]))
        # Flushed each epoch, so TensorBoard shows a long run while it goes.
        self._writer.flush()

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None


def metrics_record(
    result: TrainResult,
    refit: RefitRecord | None = None,
    test: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The contents of ``metrics.json``: the run's summary and per-epoch history, the refit
    run's (if any) and the test metrics (if they were measured)."""
    record: dict[str, Any] = {**result.as_dict(), "history": list(result.history)}
    if refit is not None:
        record["refit"] = {**refit.as_dict(), "history": list(refit.result.history)}
    if test is not None:
        record["test"] = dict(test)
    return record


def plot_history(
    history: Sequence[Mapping[str, float]],
    path: str | Path,
    valid_metric: str = NDCG10,
    best_epoch: int = 0,
    refit_history: Sequence[Mapping[str, float]] = (),
) -> None:
    """Draw the training loss (left) and the validation metric (right) per epoch to ``path``
    (PNG), the best epoch marked; a refit run's loss is drawn beside the first run's."""
    # The Agg canvas directly, not pyplot: no global backend is switched, no display needed.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    figure = Figure(figsize=(9, 3.5), layout="constrained")
    FigureCanvasAgg(figure)
    loss, valid = figure.subplots(1, 2)
    _curve(loss, history, "loss", "training run")
    if refit_history:
        _curve(loss, refit_history, "loss", "refit on every event")
    loss.set(title="training loss", xlabel="epoch", ylabel="mean loss per step")
    if history or refit_history:
        loss.legend()
    key = "valid_ndcg10" if valid_metric == NDCG10 else "valid_neg_loss"
    sign = 1.0 if valid_metric == NDCG10 else -1.0
    points = [(r["epoch"], sign * r[key]) for r in history if key in r]
    label = "validation NDCG@10" if valid_metric == NDCG10 else "validation loss"
    if points:
        valid.plot(*zip(*points, strict=True), marker="o", label=label)
        if best_epoch:
            valid.axvline(best_epoch, color="grey", linestyle="--", label=f"best: {best_epoch}")
        valid.legend()
    else:
        valid.text(0.5, 0.5, "no validation", ha="center", va="center")
    valid.set(title=label, xlabel="epoch")
    for axes in (loss, valid):
        axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    figure.savefig(path, dpi=100)


def _curve(axes, history: Sequence[Mapping[str, float]], key: str, label: str) -> None:
    points = [(r["epoch"], r[key]) for r in history if key in r]
    if points:
        axes.plot(*zip(*points, strict=True), marker="o", label=label)
