"""Training and evaluating models: the training loop, held-out evaluation and fill metrics, and
the masks and sketches they draw."""
