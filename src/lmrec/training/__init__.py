"""Training: the loop, its step, collate and checkpoints (:mod:`.loop`) and training from a
streamed log (:mod:`.stream`)."""
