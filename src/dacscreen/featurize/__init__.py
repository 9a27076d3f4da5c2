"""Periodic crystal graphs and descriptor vectors."""
