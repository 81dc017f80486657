"""The backend interface: the few cluster-shaped verbs every backend provides.

The simulated cluster (:mod:`nphelpers.backends.simulated`) and the live kind backend
(:mod:`nphelpers.backends.live`) implement it; :class:`nphelpers.Lab` only talks to it.
Every verb returns the lines kubectl would print, so notebooks show the same text on
both backends.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol, runtime_checkable

from ..cluster import ClusterState

Outcome = Literal["allowed", "blocked", "dns-failure", "refused"]


@dataclass(frozen=True)
class ProbeResult:
    """What ``wget -qO- --timeout=T URL`` did when run inside pod ``source``.

    ``outcome``: ``allowed`` (the server answered), ``blocked`` (timed out: a policy
    dropped it), ``dns-failure`` (the name did not resolve), ``refused`` (nothing listens).
    ``output`` is exactly what busybox wget prints (the page body on success).
    """

    source: str
    url: str
    outcome: Outcome
    output: str
    command: str

    @property
    def allowed(self) -> bool:
        return self.outcome == "allowed"

    def __str__(self) -> str:
        return self.output


@runtime_checkable
class Backend(Protocol):
    """A cluster that objects can be applied to and probed in."""

    name: str  # "simulated" or "kind"

    def apply(self, objects: Sequence[Mapping[str, Any]]) -> list[str]:
        """Create or replace validated manifest dicts (Namespace, Pod, Service, NetworkPolicy).

        Returns kubectl's lines: ``pod/apiserver created``,
        ``networkpolicy.networking.k8s.io/api-allow configured``, ...
        """
        ...

    def delete(self, kind: str, name: str, namespace: str = "default") -> str:
        """Delete one object (kind: namespace, pod, service, networkpolicy); kubectl's line."""
        ...

    def label(
        self, kind: str, name: str, labels: Mapping[str, str | None], namespace: str = "default"
    ) -> str:
        """Set (value) or remove (``None``) labels on a pod or namespace; kubectl's line."""
        ...

    def state(self) -> ClusterState:
        """A snapshot of namespaces, pods, services and policies as the cluster has them."""
        ...

    def wget(self, source: str, url: str, timeout: int = 2) -> ProbeResult:
        """Run ``wget -qO- --timeout=<timeout> <url>`` in pod ``source`` (``ns/name``)."""
        ...

    def cleanup(self) -> list[str]:
        """Delete everything this backend created; kubectl's lines."""
        ...
