"""Metrics: every metric Dockyard exposes is declared once here (one module per part), and each
process serves its families as Prometheus text on a loopback port (metrics/exposition.py)."""
