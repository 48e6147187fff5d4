"""The backbone: build a T5 / decoder-only model and its tokenizer from a preset or load a
checkpoint (:mod:`.model`), lay prompts out for decoder-only models (:mod:`.causal`), adapt with
LoRA (:mod:`.lora`) and share whole-word embeddings across id tokens (:mod:`.wholeword`)."""
