"""Benchmarks: inference, training, and the child process that measures peak memory."""
