"""Images pinned: every image names a version tag or a digest, never a moving tag."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .base import DEFAULT_CONFIG, DOCKER_CONTAINER, DOCKER_IMAGE, k8s_containers, pod_spec

_FLOATING_TAGS = {"latest", "main", "master", "stable", "edge", "nightly", "dev", "mainline"}


def image_pinned(reference: str) -> bool:
    """A digest, or a tag that names a version (has a digit and is not a moving alias)."""
    if "@sha256:" in reference or reference.startswith("sha256:"):
        return True
    last = reference.rsplit("/", 1)[-1]
    if ":" not in last:
        return False
    tag = last.rsplit(":", 1)[1]
    return tag.lower() not in _FLOATING_TAGS and any(char.isdigit() for char in tag)


def check_images_pinned(resource_type: str, props: Mapping[str, Any], options: Mapping[str, Any], config: Mapping[str, str] = DEFAULT_CONFIG) -> list[str]:
    references: list[tuple[str, Any]] = []
    if resource_type == DOCKER_IMAGE:
        references.append(("name", props.get("name")))
    elif resource_type == DOCKER_CONTAINER:
        references.append(("image", props.get("image")))
    else:
        pod = pod_spec(resource_type, props)
        if pod is not None:
            references += [(f"container {c.get('name')}", c.get("image")) for c in k8s_containers(pod)]
    return [
        f"{where}: image {image!r} is not pinned; use a version tag (e.g. prom/prometheus:v3.5.0) or a digest"
        for where, image in references
        if isinstance(image, str) and not image_pinned(image)
    ]
