"""Citizen feedback: Open311 GeoReport v2 reports routed to the municipality they lie in, on either side of the border."""
