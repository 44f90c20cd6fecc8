"""closure-risk: which credit-line accounts are about to be closed, and why."""

__version__ = "0.1.0"
