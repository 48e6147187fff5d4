"""Non-language-model recommenders behind the same :class:`~lmrec.recommender.Recommender`."""

from lmrec.baselines.itemknn import ItemKNNRecommender
from lmrec.baselines.popularity import PopularityRecommender

__all__ = ["ItemKNNRecommender", "PopularityRecommender"]
