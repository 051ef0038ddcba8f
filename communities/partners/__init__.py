"""Partner organisations publishing events and posts with scoped, revocable API keys."""
