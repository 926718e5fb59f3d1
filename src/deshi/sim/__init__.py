"""Backtests: replay labelled history through a learning agent and report what it would do."""
