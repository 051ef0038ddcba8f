"""Care and elderly living: providers and services directory, care circles, check-ins and escalation."""
