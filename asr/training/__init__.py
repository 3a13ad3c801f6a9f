"""Training: the loop (trainer), process groups (distributed), checkpoints, metric loggers."""
