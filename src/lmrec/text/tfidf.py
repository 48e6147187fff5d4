"""The TF-IDF item-text encoder (``tfidf`` of :mod:`lmrec.text.encoders`): character n-grams
within words, then truncated SVD; any script, no model. Its vocabulary and SVD basis are fitted
to the texts it embeds, so a text added later is *folded in* (transformed by the fitted
vectorizer and basis) rather than embedded afresh."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

__all__ = ["SVD_DIMS", "fit_tfidf"]

SVD_DIMS = 64


def fit_tfidf(
    texts: Sequence[str], seed: int
) -> tuple[np.ndarray, Callable[[Sequence[str]], np.ndarray]]:
    """The vectors of ``texts`` (not yet of unit length) and a function that gives other
    texts vectors in the same space. ``seed`` seeds the SVD, so the same texts and seed give
    the same vectors and the same space."""
    from sklearn.decomposition import TruncatedSVD
    from sklearn.feature_extraction.text import TfidfVectorizer

    # Character n-grams within words: no tokenizer, no stop words, any script.
    vectorizer = TfidfVectorizer(
        analyzer="char_wb", ngram_range=(2, 4), sublinear_tf=True, dtype=np.float32
    )
    matrix = vectorizer.fit_transform(texts)
    dims = min(SVD_DIMS, matrix.shape[0] - 1, matrix.shape[1] - 1)
    if dims < 1:
        return (
            matrix.toarray().astype(np.float64),
            lambda more: vectorizer.transform(list(more)).toarray().astype(np.float64),
        )
    svd = TruncatedSVD(n_components=dims, random_state=seed)
    vectors = svd.fit_transform(matrix)
    return vectors, lambda more: svd.transform(vectorizer.transform(list(more)))
