"""Evaluation: top-1/5, per-class accuracy, confusion matrices."""
