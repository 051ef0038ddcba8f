"""Sensors: datastreams, ingestion, rules as a state machine, alerts, the public dashboard and open data."""
