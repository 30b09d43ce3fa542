"""Benchmarks and the evaluation sets they run on: tools, not tests (`make bench`)."""
