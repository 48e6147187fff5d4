"""Non-language-model recommenders behind the same :class:`~lmrec.recommenders.base.Recommender`."""

from lmrec.baselines.als import ALSRecommender
from lmrec.baselines.itemknn import ItemKNNRecommender
from lmrec.baselines.popularity import PopularityRecommender
from lmrec.baselines.sasrec import SASRecConfig, SASRecRecommender

__all__ = [
    "ALSRecommender",
    "ItemKNNRecommender",
    "PopularityRecommender",
    "SASRecConfig",
    "SASRecRecommender",
]
