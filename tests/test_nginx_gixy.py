"""The proxy's nginx.conf as synth writes it for dev and prod, read by an independent analyser.

gixy-ng (pinned in requirements-test.in) knows misconfigurations this project's own tests were not
written to look for: a proxy_pass with a URI part (nginx then passes its decoded, normalised path, so
`%2F` arrives as `/`), a worker_connections the open-file limit cannot serve, add_header dropped by
a nested level, unanchored regex locations, and more. Every finding fails the test and is printed
in full. The CVE check needs `--nginx-version` and stays silent without it: the image's version is
a matter for the image pin, not for the file.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

CONF = "proxy/nginx.conf"


def _gixy(conf) -> tuple[list[dict], subprocess.CompletedProcess]:
    result = subprocess.run([sys.executable, "-m", "gixy", "--format", "json", str(conf)], capture_output=True, text=True, timeout=120)
    try:
        return json.loads(result.stdout), result
    except json.JSONDecodeError:
        pytest.fail(f"gixy did not answer JSON (exit {result.returncode}):\n{result.stdout}\n{result.stderr}")


def _report(findings: list[dict]) -> str:
    return "\n\n".join(f"{item['plugin']} ({item['severity']}), line {item.get('line')}: {item['reason']}\n{item['config'].strip()}" for item in findings)


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_gixy_finds_nothing_in_the_synthesised_nginx_conf(stack, request, tmp_path):
    synthesised = request.getfixturevalue(f"{stack}_stack")
    conf = tmp_path / "nginx.conf"
    conf.write_text(synthesised.files[CONF])
    findings, result = _gixy(conf)
    assert findings == [], f"gixy on the {stack} stack's {CONF}:\n\n{_report(findings)}"
    assert result.returncode == 0, result.stderr


def test_gixy_reports_a_proxy_pass_with_a_uri_part(dev_stack, tmp_path):
    """The check above can fail: put back a URI part in one proxy_pass and gixy names it."""
    text = dev_stack.files[CONF]
    assert "proxy_pass https://prometheus:9090;" in text
    conf = tmp_path / "nginx.conf"
    conf.write_text(text.replace("proxy_pass https://prometheus:9090;", "proxy_pass https://prometheus:9090/;", 1))
    findings, result = _gixy(conf)
    assert [item["plugin"] for item in findings] == ["proxy_pass_normalized"], _report(findings)
    assert result.returncode != 0
