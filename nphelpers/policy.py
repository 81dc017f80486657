"""NetworkPolicy (networking.k8s.io/v1) as values, with the matching rules of each part.

What a policy *means* for one connection is decided in :mod:`nphelpers.engine`; this
module answers the local questions: does this peer match that endpoint, does this port
entry match that port on that destination pod.
"""

from __future__ import annotations

import functools
import ipaddress

# The C module itself: `socket` would pull selectors and enum onto the CLI's start-up.
from _socket import AF_INET, AF_INET6, inet_pton
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .model import Namespace, Pod
from .selectors import LabelSelector

INGRESS = "Ingress"
EGRESS = "Egress"
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_cidr(text: str) -> IPNetwork:
    """A CIDR as the apiserver accepts it: host bits may be set (``10.0.1.1/4`` = ``0.0.0.0/4``)."""
    return ipaddress.ip_network(text.strip(), strict=False)


@functools.lru_cache(maxsize=1 << 16)
def ip_value(text: str) -> tuple[int, int] | None:
    """``(version, integer)`` of an address, or None when it is not one (parsed once per address)."""
    for family, version in ((AF_INET, 4), (AF_INET6, 6)):
        try:
            return version, int.from_bytes(inet_pton(family, text), "big")
        except (OSError, ValueError):
            continue
    return None


def _span(net: IPNetwork) -> tuple[int, int, int]:
    return net.version, int(net.network_address), int(net.broadcast_address)


@dataclass(frozen=True)
class IPBlock:
    cidr: str
    excepts: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "_span", _span(parse_cidr(self.cidr)))
        object.__setattr__(self, "_except", tuple(_span(parse_cidr(e)) for e in self.excepts))

    def matches_ip(self, ip: str | None) -> bool:
        value = ip_value(ip) if ip else None
        return value is not None and self.contains(value)

    def contains(self, value: tuple[int, int]) -> bool:
        """Whether the parsed address ``(version, integer)`` is inside the block and outside every except."""
        version, x = value
        v, lo, hi = self._span  # type: ignore[attr-defined]
        if version != v or not lo <= x <= hi:
            return False
        return not any(version == ev and elo <= x <= ehi for ev, elo, ehi in self._except)  # type: ignore[attr-defined]

    def __str__(self) -> str:
        return self.cidr + (f" except {', '.join(self.excepts)}" if self.excepts else "")


@dataclass(frozen=True)
class Peer:
    """One entry of ``from``/``to``: pods by selectors, or addresses by ``ipBlock``."""

    pod_selector: LabelSelector | None = None
    namespace_selector: LabelSelector | None = None
    ip_block: IPBlock | None = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Peer:
        """A validated peer. A selector given as ``null`` is absent, as the apiserver decodes it
        (the fields are pointers): ``namespaceSelector:`` with nothing under it keeps the peer
        in the policy's namespace, it does not select every namespace."""
        ipb = data.get("ipBlock")
        pods, namespaces = data.get("podSelector"), data.get("namespaceSelector")
        return cls(
            pod_selector=LabelSelector.from_dict(pods) if pods is not None else None,
            namespace_selector=LabelSelector.from_dict(namespaces) if namespaces is not None else None,
            ip_block=IPBlock(str(ipb["cidr"]), tuple(str(e) for e in ipb.get("except") or ())) if ipb else None,
        )

    def matches_pod(self, pod: Pod, namespace: Namespace, policy_namespace: str) -> bool:
        """Whether this peer admits ``pod`` (living in ``namespace``) for a policy in ``policy_namespace``."""
        if self.ip_block is not None:
            return any(self.ip_block.matches_ip(ip) for ip in pod.ips)
        if self.namespace_selector is None:
            if pod.namespace != policy_namespace:
                return False
        elif not self.namespace_selector.matches(namespace.labels):
            return False
        return self.pod_selector is None or self.pod_selector.matches(pod.labels)

    def matches_ip(self, ip: str) -> bool:
        """Whether this peer admits an address outside the cluster (only ipBlock peers can)."""
        return self.ip_block is not None and self.ip_block.matches_ip(ip)

    def describe(self, policy_namespace: str) -> str:
        """The peer in words a student can read."""
        if self.ip_block is not None:
            return f"addresses in {self.ip_block}"
        pods = "all pods" if self.pod_selector is None or self.pod_selector.is_empty else (
            f"pods with labels {self.pod_selector}"
        )
        if self.namespace_selector is None:
            return f"{pods} in namespace {policy_namespace}"
        if self.namespace_selector.is_empty:
            return f"{pods} in all namespaces"
        return f"{pods} in namespaces with labels {self.namespace_selector}"


@dataclass(frozen=True)
class PortSpec:
    """One entry of ``ports``: a protocol, and a port number/name or a number range."""

    protocol: str = "TCP"
    port: int | str | None = None
    end_port: int | None = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PortSpec:
        port = data.get("port")
        end = data.get("endPort")
        return cls(str(data.get("protocol") or "TCP"), port, int(end) if end is not None else None)

    def matches(self, port: int, protocol: str, destination: Pod | None) -> bool:
        """Whether traffic to ``port``/``protocol`` on ``destination`` fits this entry.

        A named port is looked up among the destination pod's container ports (for
        ingress and egress rules alike); it never matches a destination outside the cluster.
        """
        if protocol != self.protocol:
            return False
        if self.port is None:
            return True
        if isinstance(self.port, str):
            return destination is not None and destination.resolve_port(self.port, protocol) == port
        if self.end_port is not None:
            return self.port <= port <= self.end_port
        return port == self.port

    def __str__(self) -> str:
        if self.port is None:
            return f"any {self.protocol} port"
        if self.end_port is not None:
            return f"{self.port}-{self.end_port}/{self.protocol}"
        return f"{self.port}/{self.protocol}"


@dataclass(frozen=True)
class Rule:
    """One ingress/egress rule. ``peers`` empty = every peer; ``ports`` empty = every port."""

    peers: tuple[Peer, ...] = ()
    ports: tuple[PortSpec, ...] = ()

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None, direction: str) -> Rule:
        data = data or {}
        key = "from" if direction == INGRESS else "to"
        return cls(
            tuple(Peer.from_dict(p) for p in data.get(key) or ()),
            tuple(PortSpec.from_dict(p) for p in data.get("ports") or ()),
        )

    def port_matches(self, port: int, protocol: str, destination: Pod | None) -> PortSpec | None | bool:
        """The matching port entry, ``True`` when the rule has no ports, or ``None``."""
        if not self.ports:
            return True
        for spec in self.ports:
            if spec.matches(port, protocol, destination):
                return spec
        return None


@dataclass(frozen=True)
class NetworkPolicy:
    namespace: str
    name: str
    pod_selector: LabelSelector
    policy_types: tuple[str, ...]
    ingress: tuple[Rule, ...] = ()
    egress: tuple[Rule, ...] = ()
    manifest: Mapping[str, Any] | None = None

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"

    @classmethod
    def from_manifest(cls, obj: Mapping[str, Any], namespace: str = "default") -> NetworkPolicy:
        meta = obj["metadata"]
        spec = obj.get("spec") or {}
        ingress = tuple(Rule.from_dict(r, INGRESS) for r in spec.get("ingress") or ())
        egress = tuple(Rule.from_dict(r, EGRESS) for r in spec.get("egress") or ())
        return cls(
            namespace=str(meta.get("namespace") or namespace),
            name=str(meta["name"]),
            pod_selector=LabelSelector.from_dict(spec.get("podSelector")),
            policy_types=default_policy_types(spec),
            ingress=ingress,
            egress=egress,
            manifest=obj,
        )

    def selects(self, pod: Pod) -> bool:
        return pod.namespace == self.namespace and self.pod_selector.matches(pod.labels)

    def rules(self, direction: str) -> tuple[Rule, ...]:
        return self.ingress if direction == INGRESS else self.egress

    def affects(self, direction: str) -> bool:
        return direction in self.policy_types


def default_policy_types(spec: Mapping[str, Any]) -> tuple[str, ...]:
    """``policyTypes`` as the apiserver defaults it: given, else Ingress (+ Egress if egress rules)."""
    given = spec.get("policyTypes")
    if given:
        return tuple(str(t) for t in given)
    return (INGRESS, EGRESS) if spec.get("egress") else (INGRESS,)
