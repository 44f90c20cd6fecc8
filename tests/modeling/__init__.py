"""Tests of risk_model.modeling (a package: its test names must not clash with pipelines)."""
