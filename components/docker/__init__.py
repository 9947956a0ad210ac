"""The Docker backend (stack dev)."""

from components.docker.monitoring import DockerMonitoring

__all__ = ["DockerMonitoring"]
