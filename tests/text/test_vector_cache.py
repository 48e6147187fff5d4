"""Text vectors kept between fits (lmrec.text.vector_cache): only new texts are encoded, the
rows read back are the encoder's own, and a cache that cannot be used costs nothing but time."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from lmrec.text import vector_cache
from lmrec.text.encoders import encode_texts
from lmrec.text.vector_cache import CACHE_ENV, cache_root, cached_vectors


class Counting:
    """A stand-in encoder that records what it was asked to encode (the cache's contract is
    about which texts reach the encoder; the real encoder is used below)."""

    def __init__(self):
        self.calls: list[list[str]] = []

    def __call__(self, texts: list[str]) -> np.ndarray:
        self.calls.append(list(texts))
        return np.array([[len(t), t.count("a"), 0.5] for t in texts], dtype=np.float64)


def test_only_texts_never_seen_are_encoded_and_rows_come_back_in_order(tmp_path, monkeypatch):
    monkeypatch.setenv(CACHE_ENV, str(tmp_path))
    encode = Counting()
    first = cached_vectors(["ab", "banana", "ab"], "enc-1", encode)
    assert encode.calls == [["ab", "banana"]]
    assert first.tolist() == [[2, 1, 0.5], [6, 3, 0.5], [2, 1, 0.5]]
    second = cached_vectors(["banana", "cab", "ab"], "enc-1", encode)
    assert encode.calls[1:] == [["cab"]]
    assert second.tolist() == [[6, 3, 0.5], [3, 1, 0.5], [2, 1, 0.5]]
    assert second.dtype == np.float64
    other = cached_vectors(["ab"], "enc-2", encode)  # another encoder: its own file
    assert encode.calls[2:] == [["ab"]] and other.tolist() == [[2, 1, 0.5]]
    assert sorted(p.name for p in (tmp_path / "item-text").iterdir()) == [
        "enc-1.sqlite",
        "enc-2.sqlite",
    ]


@pytest.mark.parametrize("value", ["off", "OFF", "none", ""])
def test_the_cache_turns_off(tmp_path, monkeypatch, value):
    monkeypatch.setenv(CACHE_ENV, value)
    assert cache_root() is None
    encode = Counting()
    cached_vectors(["ab"], "enc", encode)
    cached_vectors(["ab"], "enc", encode)
    assert encode.calls == [["ab"], ["ab"]]


def test_default_location_follows_xdg(monkeypatch, tmp_path):
    monkeypatch.delenv(CACHE_ENV, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert cache_root() == tmp_path / "lmrec"


def test_a_corrupt_or_unwritable_cache_is_skipped_with_a_warning(tmp_path, monkeypatch, caplog):
    monkeypatch.setenv(CACHE_ENV, str(tmp_path))
    (tmp_path / "item-text").mkdir()
    (tmp_path / "item-text" / "enc.sqlite").write_bytes(b"this is not a database" * 100)
    encode = Counting()
    with caplog.at_level(logging.WARNING, logger=vector_cache.__name__):
        rows = cached_vectors(["ab", "cd"], "enc", encode)
    assert rows.tolist() == [[2, 1, 0.5], [2, 0, 0.5]] and encode.calls == [["ab", "cd"]]
    assert "unusable" in caplog.text
    blocked = tmp_path / "file"
    blocked.write_text("a file where the cache directory would go")
    monkeypatch.setenv(CACHE_ENV, str(blocked))
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger=vector_cache.__name__):
        assert cached_vectors(["ab"], "enc", encode).tolist() == [[2, 1, 0.5]]
    assert "unusable" in caplog.text


def test_minilm_vectors_from_the_cache_equal_freshly_encoded_ones(tmp_path, monkeypatch):
    """Rows read back are exactly the ones encoded; texts encoded in another batch differ from
    a whole-batch encoding by the encoder's own float rounding only."""
    texts = ["red running shoes", "a yoga mat", "red running shoes", "tennis balls, 3 pack"]
    monkeypatch.setenv(CACHE_ENV, "off")
    fresh_pair = encode_texts(texts[:2], "minilm")
    fresh_all = encode_texts(texts, "minilm")
    monkeypatch.setenv(CACHE_ENV, str(tmp_path))
    stored = encode_texts(texts[:2], "minilm")  # encodes and stores two texts
    assert np.array_equal(stored, fresh_pair)
    mixed = encode_texts(texts, "minilm")  # two from the cache, one encoded
    assert np.array_equal(mixed[:3], stored[[0, 1, 0]])
    assert np.allclose(mixed, fresh_all, atol=1e-6)
    assert np.array_equal(encode_texts(texts, "minilm"), mixed)  # all from the cache now
    assert len(list((tmp_path / "item-text").glob("minilm-*.sqlite"))) == 1


def test_malformed_or_foreign_cache_rows_are_re_encoded_and_replaced(tmp_path, monkeypatch, caplog):
    """Rows of another width under this encoder's name, or a blob that is not float32 rows:
    everything is encoded again and the cache holds the fresh rows afterwards."""
    import sqlite3

    monkeypatch.setenv(CACHE_ENV, str(tmp_path))
    cached_vectors(["ab", "cd"], "enc", lambda texts: np.ones((len(texts), 5)))  # 5 wide
    encode = Counting()  # 3 wide
    with caplog.at_level(logging.WARNING, logger=vector_cache.__name__):
        rows = cached_vectors(["ab", "xyz"], "enc", encode)
    assert rows.tolist() == [[2, 1, 0.5], [3, 0, 0.5]]
    assert encode.calls == [["xyz"], ["ab", "xyz"]] and "not this encoder's" in caplog.text
    assert cached_vectors(["ab", "xyz"], "enc", encode).tolist() == rows.tolist()
    assert len(encode.calls) == 2  # healed: both read back
    database = tmp_path / "item-text" / "enc.sqlite"
    with sqlite3.connect(database) as connection:
        connection.execute("UPDATE vectors SET vector = ? WHERE 1", (b"12345",))
    connection.close()
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger=vector_cache.__name__):
        assert cached_vectors(["ab"], "enc", encode).tolist() == [[2, 1, 0.5]]
    assert encode.calls[2:] == [["ab"]] and "malformed cache rows" in caplog.text
