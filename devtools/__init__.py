"""Development only (the `dev` extra): embedded PostgreSQL and Redis, a local FCM endpoint and mail catcher."""
