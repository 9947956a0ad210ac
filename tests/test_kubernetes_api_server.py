"""Prometheus's egress to the Kubernetes API names the API server's endpoints, never the Service VIP.

CNIs such as Calico and Cilium match egress after the `kubernetes` Service's ClusterIP has been
translated to an endpoint, so a policy that names the VIP denies discovery and its targets vanish.
Without kubernetes.apiServerCidr the program reads the EndpointSlice default/kubernetes (a read the
mocks answer from synthesis.recorder.READS, or from what a test passes); with it, no read happens and
the override is what the policy names. A slice that names no address is an error naming the override,
not a policy that silently admits nothing (or everything).
"""

from __future__ import annotations

import pytest

from components.kubernetes.api_server import OVERRIDE_KEY, ApiServerNotFound, from_endpoint_slice
from settings import PROJECT
from synthesis.recorder import API_SERVER_SLICE, ENDPOINT_SLICE
from synthesis.run import SynthResult, synth, unwrap
from topology import PROMETHEUS, egress_of

SLICE = (ENDPOINT_SLICE, "default/kubernetes")


def api_rules(result: SynthResult) -> list[dict]:
    """The egress rules of Prometheus's policy that name address blocks (the API server's)."""
    [policy] = [
        unwrap(r.inputs)
        for r in result.resources
        if r.type == "kubernetes:networking.k8s.io/v1:NetworkPolicy" and unwrap(r.inputs)["metadata"]["name"] == PROMETHEUS
    ]
    return [rule for rule in policy["spec"]["egress"] if "ipBlock" in rule["to"][0]]


def test_without_the_override_the_policy_names_the_slices_endpoints_and_ports():
    answer = {
        **API_SERVER_SLICE,
        "endpoints": [{"addresses": ["192.168.10.5"]}, {"addresses": ["192.168.10.4"], "conditions": {"ready": False}}],
        "ports": [{"name": "https", "port": 8443, "protocol": "TCP"}],
    }
    result = synth("prod", reads={SLICE: answer})
    assert [(read.type, read.id) for read in result.reads] == [SLICE]
    # Every address, ready or not (the policy outlives this deployment), in address order; the slice's port.
    assert api_rules(result) == [
        {"to": [{"ipBlock": {"cidr": "192.168.10.4/32"}}, {"ipBlock": {"cidr": "192.168.10.5/32"}}], "ports": [{"port": 8443, "protocol": "TCP"}]}
    ]


def test_the_override_is_used_as_it_is_and_nothing_is_read():
    result = synth("prod", [f"{OVERRIDE_KEY}=10.20.30.40/32"], reads={})  # any read would fail: no answers
    assert result.reads == []
    assert api_rules(result) == [
        {"to": [{"ipBlock": {"cidr": "10.20.30.40/32"}}], "ports": [{"port": port, "protocol": "TCP"} for port in egress_of(PROMETHEUS, "kube-api").ports]}
    ]


@pytest.mark.parametrize(
    "answer,problem",
    [
        ({**API_SERVER_SLICE, "endpoints": []}, "lists no API server address"),
        ({**API_SERVER_SLICE, "endpoints": [{"addresses": []}]}, "lists no API server address"),
        ({**API_SERVER_SLICE, "ports": []}, "lists no TCP port"),
        ({**API_SERVER_SLICE, "addressType": "FQDN", "endpoints": [{"addresses": ["api.example.com"]}]}, "addressType 'FQDN'"),
    ],
    ids=["no-endpoints", "no-addresses", "no-ports", "fqdn"],
)
def test_a_slice_that_names_no_reachable_address_is_a_one_line_error_naming_the_override(answer, problem):
    with pytest.raises(ApiServerNotFound) as error:
        synth("prod", reads={SLICE: answer})
    message = str(error.value)
    assert message.startswith(f"{PROJECT}:{OVERRIDE_KEY}: the EndpointSlice default/kubernetes ")
    assert problem in message and f"set {OVERRIDE_KEY}" in message and "\n" not in message


def test_ipv6_endpoints_become_single_address_blocks():
    access = from_endpoint_slice(
        "IPv6",
        [{"addresses": ["fd00::11"]}, {"addresses": ["fd00::2", "fd00::11"]}],
        [{"port": 6443}, {"port": 6443, "protocol": "TCP"}, {"port": 53, "protocol": "UDP"}],
    )
    assert access.cidrs == ("fd00::2/128", "fd00::11/128")
    assert access.ports == (6443,)
    assert access.source == "EndpointSlice default/kubernetes"
