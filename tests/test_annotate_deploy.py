"""The deploy-annotation command against a local stub of Grafana's API that records each request."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from ops import annotate_deploy
from tests.certs import ThrowawayCA
from tests.conftest import ROOT
from tests.grafana_stub import AnnotationsAPI
from tests.http_stub import StubServer


@pytest.fixture
def grafana_stub(tmp_path):
    ca = ThrowawayCA(tmp_path / "ca")
    api = AnnotationsAPI()
    server = StubServer(api.respond, tls=ca.server_context("grafana", ["localhost"], ["127.0.0.1"]))
    (tmp_path / "ca.pem").write_text(ca.ca_pem)
    yield f"{server.url}/grafana", api, server, tmp_path / "ca.pem"
    server.close()


def _run(*args, env=None):
    return subprocess.run([sys.executable, "ops/annotate_deploy.py", *args], cwd=ROOT, capture_output=True, text=True, timeout=30, env=env)


def test_posts_one_deploy_annotation_with_bearer_token(grafana_stub):
    url, _, server, ca = grafana_stub
    result = _run(
        "--url",
        url,
        "--ca-file",
        str(ca),
        "--version",
        "1.4.2",
        "--environment",
        "prod",
        "--commit",
        "0123456789abcdef",
        env={"GRAFANA_TOKEN": "glsa_test_token", "PATH": "/usr/bin"},
    )
    assert result.returncode == 0, result.stderr
    assert "annotation 42" in result.stdout
    [request] = server.requests
    assert request.method == "POST" and request.path == "/grafana/api/annotations"
    assert request.headers["authorization"] == "Bearer glsa_test_token"
    assert request.headers["content-type"] == "application/json"
    body = json.loads(request.body)
    assert body["tags"] == ["deploy", "env:prod", "version:1.4.2"]
    assert "0123456789ab" in body["text"] and isinstance(body["time"], int)


def test_refuses_an_untrusted_certificate(grafana_stub, tmp_path):
    url, _, server, _ = grafana_stub
    other = ThrowawayCA(tmp_path / "other")
    (tmp_path / "other.pem").write_text(other.ca_pem)
    result = _run(
        "--url",
        url,
        "--ca-file",
        str(tmp_path / "other.pem"),
        "--version",
        "1",
        "--environment",
        "dev",
        "--commit",
        "abc",
        env={"GRAFANA_TOKEN": "t", "PATH": "/usr/bin"},
    )
    assert result.returncode == 1 and "cannot reach Grafana" in result.stderr
    assert server.requests == []


def test_reports_an_http_error(grafana_stub):
    url, api, _, ca = grafana_stub
    api.status = 403
    result = _run(
        "--url", url, "--ca-file", str(ca), "--version", "1", "--environment", "dev", "--commit", "abc", env={"GRAFANA_TOKEN": "t", "PATH": "/usr/bin"}
    )
    assert result.returncode == 1 and "403" in result.stderr


def test_missing_token_is_a_usage_error():
    result = _run("--url", "https://x", "--version", "1", "--environment", "dev", "--commit", "abc", env={"PATH": "/usr/bin"})
    assert result.returncode == 2 and "GRAFANA_TOKEN" in result.stderr


def test_uses_only_the_standard_library():
    source = (ROOT / "ops" / "annotate_deploy.py").read_text()
    imports = {line.split()[1].split(".")[0] for line in source.splitlines() if line.startswith(("import ", "from "))}
    assert imports <= {"__future__", "argparse", "json", "os", "ssl", "sys", "time", "urllib"}
    assert annotate_deploy.TAG == "deploy"
