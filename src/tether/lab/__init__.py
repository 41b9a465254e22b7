"""The laboratory: tiny models built from scratch, so probabilities can be known exactly."""
