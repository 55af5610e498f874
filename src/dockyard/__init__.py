"""Dockyard: a private container cloud for a company's internal services."""

__version__ = "0.1.0"
