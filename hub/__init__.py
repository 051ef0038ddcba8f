"""The hub: app factory, settings, database, auth, errors, CLI and embedded servers."""
