"""Pulumi components: shared pieces (credentials, certificates, service specs) and one backend each
for Docker and Kubernetes with the same public shape."""

TYPE_PREFIX = "ngx:monitoring"
