#!/usr/bin/env python3
"""Record a deploy of the NGX API as a Grafana annotation (tag `deploy`), shown on the Overview dashboard.

Dependency-free (standard library only) so the application's CI/CD can run it anywhere:

    GRAFANA_TOKEN=$(pulumi stack output deployAnnotationToken --show-secrets) \\
    python3 ops/annotate_deploy.py --url "$(pulumi stack output urls --json | jq -r .grafana)" \\
        --ca-file ca.pem --version 1.4.2 --environment prod --commit "$GITHUB_SHA"

The token belongs to a service account the program creates with the basic role Editor, the least role
Grafana OSS can give a service account that writes organization annotations. Editor can also change
dashboards and Grafana-managed alerting (rules, contact points, notification policies, silences), not
datasources or users: keep the token in the CI/CD's secret store (docs/grafana-content.md).
"""

from __future__ import annotations

import argparse
import json
import os
import ssl
import sys
import time
import urllib.error
import urllib.request

TAG = "deploy"


def build_annotation(version: str, environment: str, commit: str, when_ms: int, text: str | None = None) -> dict:
    return {
        "time": when_ms,
        "tags": [TAG, f"env:{environment}", f"version:{version}"],
        "text": text or f"Deployed NGX API {version} to {environment} (commit {commit[:12]})",
    }


def post_annotation(url: str, token: str, annotation: dict, ca_file: str | None, timeout: float = 10.0) -> int:
    """POST to <grafana>/api/annotations; returns the new annotation's id."""
    endpoint = url.rstrip("/") + "/api/annotations"
    request = urllib.request.Request(
        endpoint,
        data=json.dumps(annotation).encode(),
        method="POST",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json", "Accept": "application/json"},
    )
    context = ssl.create_default_context(cafile=ca_file) if endpoint.startswith("https://") else None
    with urllib.request.urlopen(request, timeout=timeout, context=context) as response:
        return int(json.load(response).get("id", 0))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True, help="Grafana base URL, e.g. https://monitoring.example.com/grafana")
    parser.add_argument("--version", required=True)
    parser.add_argument("--environment", required=True)
    parser.add_argument("--commit", required=True)
    parser.add_argument("--text", help="annotation text (default: a one-line summary)")
    parser.add_argument("--ca-file", help="CA bundle that issued Grafana's certificate (the stack's caCertificate output)")
    parser.add_argument("--token-file", help="file holding the token (default: $GRAFANA_TOKEN)")
    args = parser.parse_args(argv)
    token = open(args.token_file).read().strip() if args.token_file else os.environ.get("GRAFANA_TOKEN", "")
    if not token:
        print("error: no token: set GRAFANA_TOKEN or pass --token-file (pulumi stack output deployAnnotationToken --show-secrets)", file=sys.stderr)
        return 2
    annotation = build_annotation(args.version, args.environment, args.commit, int(time.time() * 1000), args.text)
    try:
        annotation_id = post_annotation(args.url, token, annotation, args.ca_file)
    except urllib.error.HTTPError as err:
        print(f"error: Grafana answered {err.code} {err.reason} for POST /api/annotations", file=sys.stderr)
        return 1
    except (urllib.error.URLError, OSError) as err:
        print(f"error: cannot reach Grafana at {args.url}: {err}", file=sys.stderr)
        return 1
    print(f"annotation {annotation_id}: {annotation['text']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
