"""Triage: does this message need a human? Scorers, evaluation and training."""
