"""Stand-ins for the parts of Grafana's HTTP API the program calls, as `respond` functions for
tests/http_stub.StubServer (served over HTTPS from a throwaway CA, as Grafana is behind the proxy)."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field

from tests.http_stub import Recorded


def _json(status: int, body: dict) -> tuple[int, dict[str, str], bytes]:
    return status, {"Content-Type": "application/json"}, json.dumps(body).encode()


@dataclass
class AnnotationsAPI:
    """POST /api/annotations, answering `status` (ops/annotate_deploy.py's one call)."""

    status: int = 200

    def respond(self, request: Recorded) -> tuple[int, dict[str, str], bytes]:
        return _json(self.status, {"id": 42, "message": "Annotation added"})


@dataclass
class UserAPI:
    """GET /grafana/api/user and PUT /grafana/api/user/password, with basic auth like Grafana's
    (components/grafana/admin.py's calls). `requests` holds (method, path) of every call."""

    user: str
    password: str
    requests: list[tuple[str, str]] = field(default_factory=list)

    def _authorised(self, request: Recorded) -> bool:
        expected = base64.b64encode(f"{self.user}:{self.password}".encode()).decode()
        return request.headers.get("authorization") == f"Basic {expected}"

    def respond(self, request: Recorded) -> tuple[int, dict[str, str], bytes]:
        self.requests.append((request.method, request.path))
        if request.method == "GET":
            if request.path != "/grafana/api/user":
                return _json(404, {"message": "not found"})
            if not self._authorised(request):
                return _json(401, {"message": "invalid username or password"})
            return _json(200, {"login": self.user, "isGrafanaAdmin": True})
        if request.method != "PUT":
            return _json(405, {"message": "method not allowed"})
        body = json.loads(request.body)
        if request.path != "/grafana/api/user/password" or not self._authorised(request):
            return _json(401, {"message": "invalid username or password"})
        if body["oldPassword"] != self.password or body["newPassword"] != body["confirmNew"]:
            return _json(400, {"message": "old password invalid"})
        if len(body["newPassword"]) < 4:
            return _json(400, {"message": "New password is too short"})
        self.password = body["newPassword"]
        return _json(200, {"message": "User password changed"})
