"""Background work: the ARQ worker settings and thin tasks that load by id and call a service."""
