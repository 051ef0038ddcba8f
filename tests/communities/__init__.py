"""Tests of the communities package."""
