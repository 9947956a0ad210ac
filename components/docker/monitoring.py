"""Placeholder: replaced by the Docker backend implementation."""
import pulumi

from components import TYPE_PREFIX
from components.backend import MonitoringArgs


class DockerMonitoring(pulumi.ComponentResource):
    def __init__(self, name: str, args: MonitoringArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(f"{TYPE_PREFIX}:DockerMonitoring", name, None, opts)
        self.register_outputs({})
