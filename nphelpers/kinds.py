"""The kinds nphelpers knows, each described once: names, API coordinates, cleanup order.

Every table that needs a kind's plural, group, apiVersion or aliases reads it from
:data:`KINDS`; :func:`kind_info` turns what a user types (``po``, ``netpol``,
``networkpolicies.networking.k8s.io``) into the entry.
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import UsageError


@dataclass(frozen=True)
class KindInfo:
    """One API kind: ``Pod``, ``Service``, ``NetworkPolicy``, ``Namespace``."""

    kind: str
    api_version: str
    plural: str
    aliases: tuple[str, ...]
    namespaced: bool
    cleanup_order: int  # lower is deleted first: policies before services, pods, namespaces

    @property
    def group(self) -> str:
        return self.api_version.rpartition("/")[0]

    @property
    def resource(self) -> str:
        """kubectl's name in ``<resource>/<name> created``: ``pod``, ``networkpolicy.networking.k8s.io``."""
        return self.kind.lower() + (f".{self.group}" if self.group else "")

    @property
    def plural_resource(self) -> str:
        """The apiserver's name in ``pods "x" not found``: ``networkpolicies.networking.k8s.io``."""
        return self.plural + (f".{self.group}" if self.group else "")

    @property
    def word(self) -> str:
        """What a kubectl command line says: ``pod``, ``networkpolicy``."""
        return self.kind.lower()


KINDS: dict[str, KindInfo] = {
    k.kind: k
    for k in (
        KindInfo("NetworkPolicy", "networking.k8s.io/v1", "networkpolicies", ("netpol",), True, 0),
        KindInfo("Service", "v1", "services", ("svc",), True, 1),
        KindInfo("Pod", "v1", "pods", ("po",), True, 2),
        KindInfo("Namespace", "v1", "namespaces", ("ns",), False, 3),
    )
}

_ALIASES: dict[str, str] = {}
for _info in KINDS.values():
    for _name in (_info.kind.lower(), _info.plural, *_info.aliases):
        _ALIASES[_name] = _info.kind


def kind_info(kind: str) -> KindInfo:
    """The entry for ``kind`` as a user or a manifest spells it; a :class:`UsageError` if unknown."""
    base = str(kind).strip().lower()
    for info in KINDS.values():
        if info.group and base.endswith("." + info.group):
            base = base[: -len(info.group) - 1]
    if base not in _ALIASES:
        known = ", ".join(k.lower() for k in KINDS)
        raise UsageError(f"unknown kind {kind!r}: expected one of {known}")
    return KINDS[_ALIASES[base]]


def canonical_kind(kind: str) -> str:
    """``pod``, ``pods``, ``po``, ``netpol``, ``networkpolicy``... → the API kind."""
    return kind_info(kind).kind
