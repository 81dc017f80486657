"""The backend interface: the few cluster-shaped verbs every backend provides.

The simulated cluster (:mod:`nphelpers.backends.simulated`) and the live kind backend
(:mod:`nphelpers.backends.live`) implement it; :class:`nphelpers.Lab` only talks to it.
Every verb returns facts (what changed, as frozen dataclasses), never text: one module,
:mod:`nphelpers.kubectl`, renders them as kubectl prints them, so notebooks show the same
text on both backends.

Namespaces in facts and arguments are the *lesson's* names (``default``, ``prod``); a backend
that maps them onto other real namespaces does so inside itself and reports lesson names.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol, runtime_checkable

from ..cluster import ClusterState

Outcome = Literal["allowed", "blocked", "dns-failure", "refused"]


@dataclass(frozen=True)
class ProbeResult:
    """What a probe did: ``wget -qO- --timeout=T URL``, ``nc -v -w T HOST PORT`` or
    ``/agnhost connect HOST:PORT --protocol=P`` inside pod ``source``, or a client outside.

    ``outcome``: ``allowed`` (the server answered), ``blocked`` (timed out: a policy
    dropped it), ``dns-failure`` (the name did not resolve), ``refused`` (nothing listens).
    ``output`` is exactly what the tool prints (stderr then stdout: the page body on success).
    ``exit_code`` is the tool's exit status (``None``: 0 when allowed, else 1); kubectl reports a
    non-zero one as ``command terminated with exit code N``.
    """

    source: str
    url: str
    outcome: Outcome
    output: str
    command: str
    exit_code: int | None = None

    @property
    def allowed(self) -> bool:
        return self.outcome == "allowed"

    @property
    def status(self) -> int:
        """The exit status: :attr:`exit_code`, else 0 when allowed and 1 otherwise (wget's)."""
        return self.exit_code if self.exit_code is not None else (0 if self.allowed else 1)

    def __str__(self) -> str:
        return self.output


Tool = Literal["nc", "connect"]


@dataclass(frozen=True)
class Probe:
    """A probe other than wget, run in pod ``source`` (``ns/name``).

    ``nc``: busybox ``nc -v -w TIMEOUT HOST PORT`` (TCP); ``connect``: upstream's netpol probe
    ``/agnhost connect HOST:PORT --timeout=TIMEOUTs --protocol=P`` (TCP, UDP or SCTP; the source
    pod must run the agnhost image).
    """

    tool: Tool
    source: str
    host: str
    port: int
    protocol: str = "TCP"
    timeout: int = 2


@dataclass(frozen=True)
class OutsideProbe:
    """``wget -qO- --timeout=T http://ADDRESS:PORT/PATH`` from a client outside the cluster.

    ``address`` is a node's address (``port`` a NodePort) or a LoadBalancer's (``port`` the
    service port); ``client`` the client's own address, ``None`` for the machine nphelpers runs
    on (the only client a live backend has).
    """

    address: str
    port: int
    path: str = "/"
    client: str | None = None
    timeout: int = 2


Action = Literal["created", "configured", "unchanged"]


@dataclass(frozen=True)
class Applied:
    """One object of ``kubectl apply``: ``pod/apiserver created``.

    ``namespace`` is ``None`` for a Namespace.
    """

    kind: str
    name: str
    namespace: str | None
    action: Action


@dataclass(frozen=True)
class Deleted:
    """One object deleted (``pod "x" deleted``); ``found=False``: it did not exist (kubectl's NotFound)."""

    kind: str
    name: str
    namespace: str | None
    found: bool = True


@dataclass(frozen=True)
class Kept:
    """An object cleanup left in place, and why (a namespace that still holds someone else's objects)."""

    kind: str
    name: str
    namespace: str | None
    reason: str


@dataclass(frozen=True)
class Labeled:
    """A label change on one object: its labels before and after, and what was asked.

    ``changes`` maps a key to its new value, or to ``None`` for a removal (``key-``);
    kubectl's words (``labeled``, ``unlabeled``, ``not labeled``, ``label "x" not found.``)
    follow from these three alone.
    """

    kind: str
    name: str
    namespace: str | None
    old: Mapping[str, str]
    new: Mapping[str, str]
    changes: Mapping[str, str | None]


Fact = Applied | Deleted | Kept | Labeled


@runtime_checkable
class Backend(Protocol):
    """A cluster that objects can be applied to and probed in."""

    name: str  # "simulated" or "kind"

    def apply(self, objects: Sequence[Mapping[str, Any]]) -> list[Applied]:
        """Create or replace validated manifest dicts (Namespace, Pod, Service, NetworkPolicy).

        All or nothing: checked first, and rolled back if the cluster refuses one of them.
        One :class:`Applied` per object, in the order given.
        """
        ...

    def delete(self, kind: str, name: str, namespace: str = "default") -> Deleted:
        """Delete one object (kind: namespace, pod, service, networkpolicy).

        An object that does not exist is not an error here: ``Deleted(found=False)``, which
        :func:`nphelpers.kubectl.render` prints as kubectl's NotFound line.
        """
        ...

    def label(
        self, kind: str, name: str, labels: Mapping[str, str | None], namespace: str = "default"
    ) -> Labeled:
        """Set (value) or remove (``None``) labels on a pod or namespace (already validated by the Lab).

        ``old``/``new`` are the object's whole label sets (``managed-by`` included), so the
        rendered word (``labeled``/``unlabeled``) is the same on every backend.
        """
        ...

    def state(self) -> ClusterState:
        """A snapshot of namespaces, pods, services and policies as the cluster has them."""
        ...

    def wget(self, source: str, url: str, timeout: int = 2) -> ProbeResult:
        """Run ``wget -qO- --timeout=<timeout> <url>`` in pod ``source`` (``ns/name``)."""
        ...

    def probe_stable(self, source: str, url: str, timeout: int = 2) -> ProbeResult:
        """:meth:`wget` until the verdict is steady (a live CNI programs policies asynchronously)."""
        ...

    def sweep(
        self, pairs: Iterable[tuple[str, str]], port: int, max_workers: int = 8
    ) -> dict[tuple[str, str], ProbeResult]:
        """Probe (source ``ns/name``, destination ``ns/name`` or IP) pairs at ``http://<IP>:<port>/``."""
        ...

    def exec_probe(self, probe: Probe, stable: bool = True) -> ProbeResult:
        """Run an ``nc`` or agnhost ``connect`` probe (until the verdict is steady, with ``stable``)."""
        ...

    def outside_probe(self, probe: OutsideProbe) -> ProbeResult:
        """An HTTP GET from outside the cluster to a NodePort or LoadBalancer address."""
        ...

    def nodes(self) -> list[tuple[str, str]]:
        """The cluster's nodes as (name, address) pairs: where NodePorts are opened."""
        ...

    def cleanup(self) -> list[Deleted | Kept]:
        """Delete everything this backend created, and only that, in :mod:`nphelpers.kinds` cleanup
        order; then the namespaces it created (never lesson ``default``), or :class:`Kept` for one
        that still holds objects nphelpers did not create."""
        ...
