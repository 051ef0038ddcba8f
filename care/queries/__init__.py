"""SQL of the care package: one module per section and one they share; every function takes the connection first."""
