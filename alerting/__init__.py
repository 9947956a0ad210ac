"""Alerting as data: rules (alerts and recordings), routing, receivers and the alert table of docs/alerts.md.

Renderers turn these into prometheus rule files and alertmanager.yml; nothing here knows either syntax
beyond PromQL, so Grafana's notification policies can be derived from the same routing data.
"""
