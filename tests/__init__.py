"""Tests of the hub, against real PostgreSQL, Redis, SMTP and an FCM-protocol endpoint."""
