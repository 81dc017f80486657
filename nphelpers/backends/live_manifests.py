"""The live backend's images and the manifests it writes itself (the doctor's pods and policy).

:class:`Images` maps the lessons' stock images (``nginx``, ``alpine``, ``agnhost``) to pinned
tags, so the stored outputs hold on a live cluster and classrooms pre-load exactly those.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

SERVER_IMAGE_ENV = "NPHELPERS_SERVER_IMAGE"
CLIENT_IMAGE_ENV = "NPHELPERS_CLIENT_IMAGE"
DEFAULT_SERVER_IMAGE = "nginx:1.27-alpine"
DEFAULT_CLIENT_IMAGE = "busybox:1.36"
AGNHOST_IMAGE_ENV = "NPHELPERS_AGNHOST_IMAGE"
# Upstream's e2e test image (test/utils/image/manifest.go: agnhost 2.52), the client of
# upstream's netpol probes (agnhost connect) and a server for UDP and SCTP.
DEFAULT_AGNHOST_IMAGE = "registry.k8s.io/e2e-test-images/agnhost:2.52"

STOCK_SERVER_IMAGES = frozenset({DEFAULT_SERVER_IMAGE, "nginx", "nginx:latest", "docker.io/library/nginx"})
STOCK_CLIENT_IMAGES = frozenset(
    {DEFAULT_CLIENT_IMAGE, "busybox", "busybox:latest", "alpine", "alpine:latest", "docker.io/library/alpine"}
)
STOCK_AGNHOST_IMAGES = frozenset({DEFAULT_AGNHOST_IMAGE, "agnhost", "agnhost:latest"})


@dataclass(frozen=True)
class Images:
    """Container images for servers (answer HTTP on :80) and clients (have busybox wget).

    Air-gapped classrooms pre-load other tags with ``kind load docker-image`` and set
    ``NPHELPERS_SERVER_IMAGE`` / ``NPHELPERS_CLIENT_IMAGE``. Applied pods that use the stock
    images are switched to these, so lesson manifests need not change.
    """

    server: str = DEFAULT_SERVER_IMAGE
    client: str = DEFAULT_CLIENT_IMAGE
    agnhost: str = DEFAULT_AGNHOST_IMAGE

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Images:
        env = os.environ if env is None else env
        return cls(
            server=env.get(SERVER_IMAGE_ENV) or DEFAULT_SERVER_IMAGE,
            client=env.get(CLIENT_IMAGE_ENV) or DEFAULT_CLIENT_IMAGE,
            agnhost=env.get(AGNHOST_IMAGE_ENV) or DEFAULT_AGNHOST_IMAGE,
        )

    def swap(self, image: str) -> str:
        """The configured image for a stock one; any other image is kept.

        The lessons write ``--image=nginx`` and ``--image=alpine`` as the seed recipe does; on a
        live cluster those run the pinned server and client images, so the page nginx serves
        is the one the stored outputs show and classrooms can pre-load exactly two images.
        """
        if image in STOCK_SERVER_IMAGES:
            return self.server
        if image in STOCK_CLIENT_IMAGES:
            return self.client
        if image in STOCK_AGNHOST_IMAGES:
            return self.agnhost
        return image


def server_pod(
    name: str, labels: Mapping[str, str], *, namespace: str | None = None, image: str = DEFAULT_SERVER_IMAGE
) -> dict[str, Any]:
    """A pod answering HTTP on port 80 (container port named ``http``)."""
    meta: dict[str, Any] = {"name": name, "labels": dict(labels)}
    if namespace:
        meta["namespace"] = namespace
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": meta,
        "spec": {
            "containers": [{"name": "server", "image": image, "ports": [{"name": "http", "containerPort": 80}]}],
            "terminationGracePeriodSeconds": 1,
        },
    }


def client_pod(
    name: str, labels: Mapping[str, str], *, namespace: str | None = None, image: str = DEFAULT_CLIENT_IMAGE
) -> dict[str, Any]:
    """A long-lived pod to run wget in (never a one-shot ``kubectl run --rm`` pod: a new pod
    can get its first connections through before policies are programmed for it)."""
    meta: dict[str, Any] = {"name": name, "labels": dict(labels)}
    if namespace:
        meta["namespace"] = namespace
    # The trap makes the pod stop at once on delete (a bare `sleep` as PID 1 ignores TERM).
    script = "trap 'exit 0' TERM INT; while true; do sleep 3600 & wait $!; done"
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": meta,
        "spec": {
            "containers": [{"name": "client", "image": image, "command": ["sh", "-c", script]}],
            "terminationGracePeriodSeconds": 1,
        },
    }


def deny_all_ingress(name: str = "deny-all", *, namespace: str | None = None) -> dict[str, Any]:
    """A policy selecting every pod of its namespace for ingress, with no rules."""
    meta: dict[str, Any] = {"name": name}
    if namespace:
        meta["namespace"] = namespace
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": meta,
        "spec": {"podSelector": {}, "policyTypes": ["Ingress"]},
    }


# A pod's resolver, as the live backend sets it where a pod names none: one try of one second
# a name. Under an egress deny nothing answers DNS, and glibc's default (5 s, 2 attempts, for
# each of the cluster's search domains) would keep busybox wget resolving for about 40 s, past
# the probe's budget; with these options it prints the same `bad address` within a few seconds.
DNS_CONFIG: dict[str, Any] = {"options": [{"name": "timeout", "value": "1"}, {"name": "attempts", "value": "1"}]}


def with_quick_dns(spec: dict[str, Any]) -> None:
    """Give a pod spec :data:`DNS_CONFIG` unless it sets its own ``dnsConfig``."""
    if not spec.get("dnsConfig"):
        spec["dnsConfig"] = {"options": [dict(o) for o in DNS_CONFIG["options"]]}

