"""The Kubernetes provider every resource of the prod stack is created with.

Explicit rather than the default provider, for two settings a config change depends on:
- enable_config_map_mutable / enable_secret_mutable: by default pulumi-kubernetes replaces a ConfigMap
  or Secret whose data changes (delete, then create under the same explicit name, leaving a moment
  with no object). With these, a changed file is an in-place update of the same object, which the
  kubelet then projects into the running pods' directory mounts; nothing in a pod template changes
  (components/file_layout.py). Objects are never `immutable`, which would turn this off again.
The provider reads the cluster from the usual kubeconfig / `kubernetes:*` stack config, as the default
provider did. Switching an existing stack from the default provider to this one is an update, not a
replacement: the engine asks the provider's DiffConfig, and these two options do not require one.
"""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s


def kubernetes_providers(name: str) -> list[pulumi.ProviderResource]:
    """The providers a Kubernetes backend component is created with (its children inherit them)."""
    return [k8s.Provider(name, enable_config_map_mutable=True, enable_secret_mutable=True)]
