"""Model files: our own format (weights), the official DeepFill and LaMa checkpoints (TensorFlow
bundles, restricted pickles), the loader registry, the models folder and where models live."""
