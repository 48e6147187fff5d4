"""From a trained model to answers: the item trie and constrained beam search that only ever
emit catalogue items, candidate scoring (:mod:`.beam`), and free-text generation (:mod:`.text`)."""
