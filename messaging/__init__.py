"""Messaging: devices, preferences, notifications (outbox), planning, rendering, push and email channels."""
