"""The per-host agent: the Docker IPAM driver, bandwidth limits (and later metrics and logs)."""
