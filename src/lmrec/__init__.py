"""lmrec: language models as recommender systems (P5-style), as a library, CLI and service."""

from lmrec.recommenders.base import Recommender, Scored

__all__ = ["Recommender", "Scored", "__version__"]

__version__ = "0.1.0"
