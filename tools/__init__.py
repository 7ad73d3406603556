"""The tools the model may call: one module each, a typed function plus its argument model."""
