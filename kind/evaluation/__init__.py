"""Measuring the enhancer: eval, score, diagnose and the results tables."""
