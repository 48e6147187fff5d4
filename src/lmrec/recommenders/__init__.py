"""Recommenders: the one contract (:mod:`.base`), the language model (:mod:`.lm`, its task
answers in :mod:`.task_answers`), named items (:mod:`.named`), the hybrid with collaborative
retrieval (:mod:`.hybrid`, :mod:`.retrieval`), cold start (:mod:`.coldstart`) and diversity
re-ranking (:mod:`.rerank`).

Nothing is imported here, so a baseline can import the contract without loading transformers.
"""
