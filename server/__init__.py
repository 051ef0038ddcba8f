"""The application shell: create_app, the `hub` command, the dev supervisor, health, and the list of domains."""
