"""Places instances run: the Runtime seam, an in-memory fake, and the Docker engine."""
