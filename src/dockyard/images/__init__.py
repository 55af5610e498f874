"""Image center: builds from a commit, the registry, digests, promotion and retention."""
