"""Benchmarks: medians and same-run ratios against the anchors (``python -m bench``)."""
