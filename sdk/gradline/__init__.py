"""Gradline SDK: W&B-compatible experiment logging."""

__version__ = "0.1.0"
