"""Public holidays of both sides of the border, by municipality."""
