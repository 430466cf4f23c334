"""Benchmark harness: the same data and masks for every model, a Markdown table and JSON out."""
