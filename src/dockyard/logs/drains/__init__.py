"""Destinations of log drains: one module per kind (syslog, ndjson, otlp), each an encoder (a
pure function, tested by tables) and a sender that translates its transport's errors into
Unavailable once; destination.py picks the one a drain's kind names."""
