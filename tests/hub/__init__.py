"""Tests of the hub package."""
