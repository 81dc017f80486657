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

    def cleanup(self) -> list[Deleted | Kept]:
        """Delete everything this backend created, and only that, in :mod:`nphelpers.kinds` cleanup
        order; then the namespaces it created (never lesson ``default``), or :class:`Kept` for one
        that still holds objects nphelpers did not create."""
        ...
