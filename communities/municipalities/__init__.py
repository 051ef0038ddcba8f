"""Municipalities of France and Germany: official codes, names in both languages, search."""
