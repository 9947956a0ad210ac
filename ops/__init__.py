"""Operational commands: deploy annotations and backups."""
