"""Tests of the messaging package."""
