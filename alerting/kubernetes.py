"""Kubernetes signals (kubernetes.yml) and node filesystems (node.yml): what kube-prometheus-stack would
page on for this stack's pods, workloads, volumes and disks.

Selectors and thresholds follow the kubernetes-mixin (kubernetes-monitoring/kubernetes-mixin,
alerts/apps_alerts.libsonnet, storage_alerts.libsonnet, resource_alerts.libsonnet) and, for node
filesystems, the node-mixin (prometheus/node_exporter, docs/node-mixin); thresholds and `for` durations
are settings (alerting.thresholds) with the mixins' defaults. Every alert keeps `job` and the
object's own labels (namespace, pod, container, deployment, persistentvolumeclaim), which the scrape
jobs deliver unchanged (renderers/prometheus.py), so inhibitions and descriptions can name them.
"""

from __future__ import annotations

from alerting import node_io
from alerting.model import Alert, RuleGroup
from alerting.promql import number, selector
from catalog import JOB_CADVISOR, JOB_KUBE_STATE_METRICS, JOB_KUBELET, JOB_NODE
from settings import Settings

KSM = JOB_KUBE_STATE_METRICS
# Waiting reasons that do not clear by themselves: the container will not start until someone acts.
BAD_WAITING_REASONS = ("CrashLoopBackOff", "ImagePullBackOff", "ErrImagePull", "CreateContainerConfigError", "CreateContainerError", "InvalidImageName")
# The window restarts are counted over: CrashLoopBackOff waits at most 5m between restarts, so a
# container in a crash loop restarts at least once in any 10m.
RESTART_WINDOW = "10m"
POD = "{{ $labels.namespace }}/{{ $labels.pod }}"
OOM_KILLED = 'reason="OOMKilled"'
NOT_READY = 'condition="false"'
FINISHED = 'phase=~"Succeeded|Failed"'  # a finished pod (a backup run's) is never ready
NOT_PROGRESSING = ('condition="Progressing"', 'status="false"')
CONTAINERS = 'container!=""'  # cAdvisor's pod-level cgroup has no container (also dropped at scrape)


def _quoted(value: str) -> str:
    return f'"{value}"'


def _ksm(series: str, *matchers: str) -> str:
    return selector(series, KSM, *matchers)


def _restarts_in_window() -> str:
    # An offset difference, not increase(): restarts are whole numbers and the description shows them.
    restarts = _ksm("kube_pod_container_status_restarts_total")
    return f"({restarts} - {restarts} offset {RESTART_WINDOW})"


def workload_alerts(settings: Settings) -> tuple[Alert, ...]:
    t = settings.alerting.thresholds
    reasons = "|".join(BAD_WAITING_REASONS)
    return (
        Alert(
            "KubePodCrashLooping",
            f"{_restarts_in_window()} > 0",
            # kubernetes-mixin: 15m of restarts, longer than a rollout's or a node drain's single restart.
            t.pod_crash_looping_for,
            "warning",
            "availability",
            "A container keeps restarting (crash loop).",
            "Container {{ $labels.container }} of pod " + POD + " restarted {{ $value }} times in the last "
            f"{RESTART_WINDOW}, and has kept restarting for {t.pod_crash_looping_for}.",
        ),
        Alert(
            "KubeContainerWaiting",
            f"max_over_time({_ksm('kube_pod_container_status_waiting_reason', f'reason=~{_quoted(reasons)}')}[5m]) >= 1",
            # kubernetes-mixin: 1h. max_over_time: a crash-looping container leaves the waiting state
            # for each short run; the alert must not reset with it.
            t.container_waiting_for,
            "warning",
            "availability",
            "A container cannot start: it waits in a reason that does not clear by itself.",
            "Container {{ $labels.container }} of pod " + POD + " has been waiting in {{ $labels.reason }} "
            f"for more than {t.container_waiting_for} (waiting = {{{{ $value }}}}).",
        ),
        Alert(
            "KubeContainerOOMKilled",
            f"{_restarts_in_window()} >= 1 and ignoring (reason) "
            f"min_over_time({_ksm('kube_pod_container_status_last_terminated_reason', OOM_KILLED)}[{RESTART_WINDOW}]) == 1",
            # No `for`: the kill already happened; the restart count tells how often.
            None,
            "warning",
            "resources",
            "A container was killed for exceeding its memory limit (OOMKilled).",
            "Container {{ $labels.container }} of pod " + POD + " was OOM-killed and restarted {{ $value }} times in the last "
            f"{RESTART_WINDOW}; raise its memory limit or find the leak.",
        ),
        Alert(
            "KubePodNotReady",
            # A pod that finished (a backup run's pod: Succeeded or Failed) is never ready and must not alert.
            f"max by (job, namespace, pod) ({_ksm('kube_pod_status_ready', NOT_READY)}) == 1 "
            f"unless on (namespace, pod) max by (namespace, pod) ({_ksm('kube_pod_status_phase', FINISHED)}) == 1",
            # kubernetes-mixin: 15m, longer than any startup probe (10m) allows a pod to start.
            t.pod_not_ready_for,
            "warning",
            "availability",
            "A pod has not been ready for a long time.",
            "Pod " + POD + f" has not been ready for more than {t.pod_not_ready_for} (ready=false: {{{{ $value }}}}).",
        ),
        Alert(
            "KubeDeploymentReplicasMismatch",
            f"{_ksm('kube_deployment_spec_replicas')} > {_ksm('kube_deployment_status_replicas_available')}",
            # kubernetes-mixin: 15m, a rollout of a few pods completes well within it.
            t.replicas_mismatch_for,
            "warning",
            "availability",
            "A Deployment has fewer available replicas than it wants.",
            "Deployment {{ $labels.namespace }}/{{ $labels.deployment }} wants {{ $value }} replicas and has had fewer "
            f"available for more than {t.replicas_mismatch_for}.",
        ),
        Alert(
            "KubeStatefulSetReplicasMismatch",
            f"{_ksm('kube_statefulset_replicas')} > {_ksm('kube_statefulset_status_replicas_ready')}",
            t.replicas_mismatch_for,
            "warning",
            "availability",
            "A StatefulSet has fewer ready replicas than it wants.",
            "StatefulSet {{ $labels.namespace }}/{{ $labels.statefulset }} wants {{ $value }} replicas and has had fewer "
            f"ready for more than {t.replicas_mismatch_for}.",
        ),
        Alert(
            "KubeDeploymentRolloutStuck",
            f"{_ksm('kube_deployment_status_condition', *NOT_PROGRESSING)} == 1",
            # The controller sets Progressing=false after progressDeadlineSeconds (10m by default); the
            # mixin's 15m on top of that leaves a slow image pull time to finish.
            t.rollout_stuck_for,
            "warning",
            "availability",
            "A Deployment's rollout stopped progressing.",
            "Deployment {{ $labels.namespace }}/{{ $labels.deployment }} reports Progressing=false "
            f"(value {{{{ $value }}}}) for more than {t.rollout_stuck_for}: its new pods do not become available.",
        ),
    )


def _free_ratio(available: str, size: str) -> str:
    """Share still free; a size of 0 (a volume not measured yet) gives no sample, not +Inf."""
    return f"{available} / ({size} > 0)"


def volume_alerts(settings: Settings) -> tuple[Alert, ...]:
    t = settings.alerting.thresholds
    available = selector("kubelet_volume_stats_available_bytes", JOB_KUBELET)
    free = _free_ratio(available, selector("kubelet_volume_stats_capacity_bytes", JOB_KUBELET))
    # used > 0: a volume the kubelet reports as empty is one it could not measure (mixin).
    used = f"{selector('kubelet_volume_stats_used_bytes', JOB_KUBELET)} > 0"
    horizon = int(t.volume_filling_days * 86400)
    claim = "PersistentVolumeClaim {{ $labels.namespace }}/{{ $labels.persistentvolumeclaim }}"
    return (
        Alert(
            "KubePersistentVolumeFillingUp",
            f"{free} < {number(t.volume_filling_available)} and {used} and predict_linear({available}[6h], {horizon}) < 0",
            # kubernetes-mixin: 1h of the 6h trend pointing at full, so a compaction's burst does not mail.
            t.volume_filling_for,
            "warning",
            "resources",
            f"A volume is predicted to fill up within {number(t.volume_filling_days)} days.",
            claim + f" has {{{{ $value | humanizePercentage }}}} free and, at the rate of the last 6h, fills up within {number(t.volume_filling_days)} days.",
        ),
        Alert(
            "KubePersistentVolumeAlmostFull",
            f"{free} < {number(t.volume_full_available)} and {used}",
            # kubernetes-mixin: 1m. A full Prometheus, Loki or Alertmanager volume stops writing.
            t.volume_full_for,
            "critical",
            "resources",
            "A volume is almost full: the service on it is about to stop writing.",
            claim + f" has only {{{{ $value | humanizePercentage }}}} free (threshold {number(t.volume_full_available * 100)}%).",
        ),
    )


def throttling_alerts(settings: Settings) -> tuple[Alert, ...]:
    t = settings.alerting.thresholds
    app = f'namespace="{settings.app.namespace}"'

    def periods(series: str) -> str:
        return f"sum by (job, namespace, pod, container) (increase({selector(series, JOB_CADVISOR, app, CONTAINERS)}[5m]))"

    return (
        Alert(
            "CPUThrottlingHigh",
            f"{periods('container_cpu_cfs_throttled_periods_total')} / ({periods('container_cpu_cfs_periods_total')} > 0) > {number(t.cpu_throttling)}",
            # kubernetes-mixin: 15m, info. Throttling slows responses before anything else shows it.
            t.cpu_throttling_for,
            "info",
            "performance",
            "An API container is CPU-throttled heavily: its CPU limit slows it down.",
            "Container {{ $labels.container }} of pod " + POD + " was throttled in {{ $value | humanizePercentage }} "
            f"of its CPU periods over the last 5m (threshold {number(t.cpu_throttling * 100)}%).",
        ),
    )


def filesystem_alerts(settings: Settings) -> tuple[Alert, ...]:
    t = settings.alerting.thresholds
    available = selector("node_filesystem_avail_bytes", JOB_NODE, 'fstype!=""')
    free = _free_ratio(available, selector("node_filesystem_size_bytes", JOB_NODE, 'fstype!=""'))
    horizon = int(t.filesystem_filling_hours * 3600)
    where = "Filesystem {{ $labels.mountpoint }} ({{ $labels.device }}) of {{ $labels.instance }}"
    return (
        Alert(
            "NodeFilesystemSpaceFillingUp",
            f"{free} < {number(t.filesystem_filling_available)} and predict_linear({available}[6h], {horizon}) < 0",
            # node-mixin: 1h of the 6h trend pointing at full.
            t.filesystem_filling_for,
            "warning",
            "resources",
            f"A node filesystem is predicted to fill up within {number(t.filesystem_filling_hours)} hours.",
            where + " has {{ $value | humanizePercentage }} free and, at the rate of the last 6h, fills up within "
            f"{number(t.filesystem_filling_hours)} hours.",
        ),
        Alert(
            "NodeFilesystemAlmostOutOfSpace",
            f"{free} < {number(t.filesystem_full_available)}",
            # node-mixin: 30m. Every volume of the dev stack lives on this disk; on Kubernetes a full node
            # disk evicts pods.
            t.filesystem_full_for,
            "critical",
            "resources",
            "A node filesystem is almost full.",
            where + f" has only {{{{ $value | humanizePercentage }}}} free (threshold {number(t.filesystem_full_available * 100)}%).",
        ),
    )


def kubernetes_groups(settings: Settings) -> tuple[RuleGroup, ...]:
    """Kubernetes only: the series come from kube-state-metrics, the kubelet and cAdvisor."""
    if settings.platform != "kubernetes":
        return ()
    return (
        RuleGroup("kubernetes.workloads", workload_alerts(settings)),
        RuleGroup("kubernetes.storage", volume_alerts(settings)),
        RuleGroup("kubernetes.resources", throttling_alerts(settings)),
    )


def node_groups(settings: Settings) -> tuple[RuleGroup, ...]:
    """Both stacks: node-exporter runs on Docker and Kubernetes alike."""
    return (RuleGroup("node.filesystem", filesystem_alerts(settings)), RuleGroup("node.network", node_io.alerts(settings)))
