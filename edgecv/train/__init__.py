"""One training loop (train, fine-tune, distil, QAT) and its settings."""
