"""Helpers shared by the test suites: a Docker engine to talk to, and the images tests run."""
