"""The Kubernetes backend (stack prod): the monitoring stack as namespaced, hardened workloads.

Same inputs and outputs as the Docker backend; what differs is only how each ServiceSpec is placed:
- two namespaces, Pod Security `restricted` for the stack and `privileged` for the two host-access
  DaemonSets alone (namespaces.py);
- one KubernetesWorkload per service (workload.py): Prometheus, Alertmanager, Loki and Grafana as
  StatefulSets with a claim per replica, the rest as Deployments or DaemonSets;
- one KubernetesJob per scheduled job (job.py): the backups, a CronJob per backed-up replica;
- default-deny NetworkPolicies plus exactly the topology's edges (network_policies.py);
- read-only RBAC for the API readers, Prometheus, kube-state-metrics and Alloy (rbac.py);
- an Ingress in front of the proxy (ingress.py).
"""

from __future__ import annotations

import pulumi

import addresses
from components import TYPE_PREFIX
from components.backend import MonitoringArgs
from components.kubernetes.ingress import create_ingress
from components.kubernetes.job import KubernetesJob, KubernetesJobArgs
from components.kubernetes.namespaces import create_namespaces
from components.kubernetes.network_policies import create_network_policies
from components.kubernetes.rbac import create_reader_rbac
from components.kubernetes.workload import KubernetesWorkload, KubernetesWorkloadArgs, needs_api_token
from topology import ENTRYPOINT, GRAFANA


class KubernetesMonitoring(pulumi.ComponentResource):
    """Outputs:
    - `services`: topology service name -> its `KubernetesWorkload` (ConfigMap, Secret, Services,
      the StatefulSet/Deployment/DaemonSet as `.workload`, `.ready`);
    - `jobs`: scheduled service name -> its `KubernetesJob` (a CronJob per run);
    - `grafana_ready`: resolves (to True) once Grafana, the proxy and the Ingress in front of them
      are ready, i.e. once Grafana answers at its public URL; the Grafana provider depends on it.
    """

    def __init__(self, name: str, args: MonitoringArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(f"{TYPE_PREFIX}:KubernetesMonitoring", name, None, opts)
        settings = args.settings
        namespaces = create_namespaces(name, settings, self)
        namespace_names = {key: resource.metadata.name for key, resource in namespaces.items()}

        storage_class = settings.kubernetes.storage_class
        workloads = {
            service: KubernetesWorkload(
                f"{name}-{service}",
                KubernetesWorkloadArgs(spec, namespace_names[addresses.namespace(settings, service)], storage_class),
                opts=pulumi.ResourceOptions(parent=self),
            )
            for service, spec in sorted(args.specs.items())
            if not spec.scheduled
        }
        self.jobs: dict[str, KubernetesJob] = {
            service: KubernetesJob(
                f"{name}-{service}",
                KubernetesJobArgs(spec, namespace_names[addresses.namespace(settings, service)], storage_class),
                opts=pulumi.ResourceOptions(parent=self),
            )
            for service, spec in sorted(args.specs.items())
            if spec.scheduled
        }
        for service, workload in workloads.items():
            if needs_api_token(service):
                create_reader_rbac(
                    f"{name}-{service}",
                    settings,
                    service,
                    workload.service_account.metadata.name,
                    workload.service_account.metadata.namespace,
                    namespace_names,
                    self,
                )
        create_network_policies(name, settings, namespace_names, self)
        entrypoint = workloads[ENTRYPOINT]
        ingress = create_ingress(name, args, namespace_names[addresses.namespace(settings, ENTRYPOINT)], entrypoint.service, self)

        self.services: dict[str, KubernetesWorkload] = workloads
        # pulumi-kubernetes reports a StatefulSet/Deployment created only once its replicas are ready,
        # and an Ingress once the controller has admitted it (load-balancer status).
        self.grafana_ready: pulumi.Output[bool] = pulumi.Output.all(workloads[GRAFANA].ready, entrypoint.ready, ingress.id).apply(lambda _: True)
        self.register_outputs(
            {
                "services": {service: workload.workload.metadata.name for service, workload in self.services.items()},
                "jobs": {service: {run: cron.metadata.name for run, cron in job.cron_jobs.items()} for service, job in self.jobs.items()},
                "grafana_ready": self.grafana_ready,
            }
        )
