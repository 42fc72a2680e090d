"""Training: the config, the data, the three stages, the loop and its checkpoints."""
