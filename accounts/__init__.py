"""Accounts: registration, sign-in with rotating refresh tokens, the profile, GDPR export and erasure."""
