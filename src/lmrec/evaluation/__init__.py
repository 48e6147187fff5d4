"""A recommender or a task family on a split, measured into a protocol-labelled report:
ranking over all items (:mod:`.ranking`) and the P5 task families (:mod:`.tasks`)."""
