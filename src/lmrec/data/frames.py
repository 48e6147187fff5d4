"""pandas DataFrames in and out: a log (and its catalogue) read from DataFrames exactly as from
files, and recommendations returned as a DataFrame.

Fit from a DataFrame::

    dataset = dataset_from_frame(events, columns=ColumnMap(user="customer_id", item="sku",
                                 timestamp="ts", event="event_type"), catalog=items,
                                 item_columns=ItemColumnMap(id="sku", name="title"))
    model = LMRecommender(config).fit(leave_one_out_split(dataset))
    recs = recommendations_frame(model, dataset, k=10)   # user, rank, item, score, name

pandas is imported inside the functions: it is only needed by those who call them.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lmrec.config.progress import show_progress
from lmrec.data.readers import ColumnMap, DataFormatError, ItemColumnMap, read_interactions
from lmrec.data.schema import Catalog, Dataset, Interaction

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "RECOMMENDATION_COLUMNS",
    "dataset_from_frame",
    "iter_recommendation_rows",
    "recommendation_columns",
    "recommendations_frame",
]

RECOMMENDATION_COLUMNS = ("user", "rank", "item", "score", "name")
"""The columns of :func:`recommendations_frame` (``name`` only when the model has names)."""


def dataset_from_frame(
    events: pd.DataFrame,
    columns: ColumnMap | None = None,
    catalog: pd.DataFrame | None = None,
    item_columns: ItemColumnMap | None = None,
    name: str = "frame",
    strict: bool = True,
) -> Dataset:
    """A :class:`Dataset` from a DataFrame of events (and one of items), read by the file
    reader itself: what a CSV or Parquet log accepts, refuses or drops, a frame does too
    (``columns`` maps its column names; ISO-8601 strings, unix seconds and datetime columns are
    all timestamps; every logged item must be in ``catalog`` when one is given). A bad row is
    an error naming it: ``events frame:row 3: bad timestamp: ...`` (rows count from 1, in frame
    order, which is also the order equal timestamps keep).
    """
    with tempfile.TemporaryDirectory(prefix="lmrec-frame-") as tmp:
        # Through Parquet, which keeps the frame's column types (numbers, datetimes, text),
        # so the frame meets the very reader a file meets, and any rule it gains later.
        log_path = _parquet(events, Path(tmp) / "events.parquet", "events frame")
        item_path = None
        if catalog is not None:
            item_path = _parquet(catalog, Path(tmp) / "items.parquet", "catalog frame")
        labels = {str(log_path): "events frame", str(item_path): "catalog frame"}
        try:
            dataset = read_interactions(
                log_path,
                columns or ColumnMap(),
                catalog_path=item_path,
                item_columns=item_columns,
                name=name,
                strict=strict,
            )
        except (DataFormatError, ValueError) as err:
            raise ValueError(_relabel(str(err), labels)) from None
    for report in dataset.reports:
        report.source = _relabel(report.source, labels)
    return dataset


def _parquet(frame: pd.DataFrame, path: Path, label: str) -> Path:
    import pyarrow as pa

    frame = frame.reset_index(drop=True)
    try:
        frame.to_parquet(path, index=False)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        # A column mixing types (ISO strings and unix numbers, say) is one a CSV would hold
        # as text: so it becomes text, missing values kept missing, and the reader reads it.
        mixed = {c: frame[c].map(_as_text) for c in frame.columns if frame[c].dtype == object}
        try:
            frame.assign(**mixed).to_parquet(path, index=False)
        except (pa.ArrowInvalid, pa.ArrowTypeError) as err:
            raise ValueError(f"{label}: a column Parquet cannot hold: {err}") from None
    return path


def _as_text(value: Any) -> Any:
    if value is None or isinstance(value, str) or (isinstance(value, float) and value != value):
        return value
    return str(value)


def _relabel(message: str, labels: Mapping[str, str]) -> str:
    for path, label in labels.items():
        message = message.replace(path, label)
    return message


def recommendations_frame(
    model: Any, histories: Dataset | Mapping[str, Sequence[str | Interaction]], **options: Any
) -> pd.DataFrame:
    """Each user's top ``k`` as rows of ``user, rank, item, score`` (and ``name`` when the
    model has a catalogue), users in the order given, ranks from 1.

    ``model`` is any fitted recommender (``recommend(histories, k, exclude_seen)``); histories
    are a dataset's (every user of it) or a mapping of user to items (ids or events, oldest
    first). A model trained on typed histories gets each event's type. Scores are the model's
    own (a language model's: log-probability; higher is better). ``options`` are those of
    :func:`iter_recommendation_rows` (``k=10, exclude_seen=True, language=None,
    batch_size=256, progress=False``).
    """
    import pandas as pd

    rows = list(iter_recommendation_rows(model, histories, **options))
    frame = pd.DataFrame.from_records(rows, columns=recommendation_columns(model))
    return frame.astype({"rank": "int64", "score": "float64"})


def recommendation_columns(model: Any) -> list[str]:
    """The columns of ``model``'s rows: ``name`` only when it has a catalogue."""
    named = getattr(model, "catalog", None) is not None
    return [c for c in RECOMMENDATION_COLUMNS if named or c != "name"]


def iter_recommendation_rows(
    model: Any,
    histories: Dataset | Mapping[str, Sequence[str | Interaction]],
    k: int = 10,
    exclude_seen: bool = True,
    language: str | None = None,
    batch_size: int = 256,
    progress: bool = False,
) -> Iterator[tuple]:
    """The rows of :func:`recommendations_frame`, a batch of users at a time (so an export
    can write them as they come)."""
    from tqdm.auto import tqdm

    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    by_user = histories.histories() if isinstance(histories, Dataset) else histories
    users = list(by_user)
    catalog: Catalog | None = getattr(model, "catalog", None)
    typed = _typed(model)
    bar = tqdm(total=len(users), unit="user", desc="recommend", disable=not show_progress(progress))
    with bar:
        for start in range(0, len(users), batch_size):
            batch = users[start : start + batch_size]
            events = [list(by_user[u]) for u in batch]
            items = [[x.item if isinstance(x, Interaction) else x for x in h] for h in events]
            extra = {}
            if typed:
                extra["events"] = [
                    [str(x.event) if isinstance(x, Interaction) else "purchase" for x in h]
                    for h in events
                ]
            results = model.recommend(items, k=k, exclude_seen=exclude_seen, **extra)
            for user, ranked in zip(batch, results, strict=True):
                for rank, scored in enumerate(ranked, 1):
                    row = (user, rank, scored.item, float(scored.score))
                    yield (*row, catalog.name(scored.item, language)) if catalog else row
            bar.update(len(batch))


def _typed(model: Any) -> bool:
    # Only the language model reads event types, and only when trained on typed histories
    # (LMConfig.events.typed); duck-typed, because data may not import the recommenders.
    events = getattr(getattr(model, "config", None), "events", None)
    return bool(getattr(events, "typed", False))
