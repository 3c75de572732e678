"""Helpers that start the real processes and speak to them like clients do."""
