"""The Docker engine runtime: driver, container arguments, observation, probes, network."""

from dockyard.runtimes.docker.driver import DockerRuntime

__all__ = ["DockerRuntime"]
