"""Grafana's content as code: providers, folders, datasources, dashboards and alerting (content.py),
the admin password kept in sync through the API (admin.py), and the pure translations they use."""

from components.grafana.content import GrafanaContent, GrafanaContentArgs

__all__ = ["GrafanaContent", "GrafanaContentArgs"]
