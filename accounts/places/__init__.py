"""Places a person follows besides home (a parent's village, a workplace), both countries."""
