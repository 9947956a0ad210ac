"""The Kubernetes backend (stack prod)."""

from components.kubernetes.monitoring import KubernetesMonitoring

__all__ = ["KubernetesMonitoring"]
