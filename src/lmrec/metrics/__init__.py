"""Evaluation metrics as small pure functions of ranked lists and relevant sets.

The package's names are :mod:`lmrec.metrics.ranking`'s, listed once there.
"""

from lmrec.metrics import ranking
from lmrec.metrics.ranking import *  # noqa: F403

__all__ = ranking.__all__
