"""Tests of the territory package."""
