"""Entry points: thin wiring around :mod:`risk_model` (argument parsing, I/O, logging)."""
