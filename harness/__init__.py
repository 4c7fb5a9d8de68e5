"""envi-mt-harness: evaluation harness for English→Vietnamese machine translation."""

__version__ = "0.1.0"
