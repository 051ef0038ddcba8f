"""Tests of one domain package each (tests/<package>/), and what spans them (the access matrix)."""
