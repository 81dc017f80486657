"""The cluster's objects as small immutable values: namespaces, pods, services.

Built from already validated manifest dicts (see :mod:`nphelpers.validation`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

SYSTEM_NAMESPACE = "kube-system"
NAME_LABEL = "kubernetes.io/metadata.name"


def _labels(meta: Mapping[str, Any]) -> dict[str, str]:
    return {str(k): str(v) for k, v in (meta.get("labels") or {}).items()}


@dataclass(frozen=True)
class Namespace:
    name: str
    labels: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # The apiserver always sets this label and it cannot be removed or changed.
        if self.labels.get(NAME_LABEL) != self.name:
            object.__setattr__(self, "labels", {**self.labels, NAME_LABEL: self.name})

    @classmethod
    def from_manifest(cls, obj: Mapping[str, Any]) -> Namespace:
        meta = obj["metadata"]
        return cls(str(meta["name"]), _labels(meta))

    def with_labels(self, labels: Mapping[str, str]) -> Namespace:
        return replace(self, labels=dict(labels))


@dataclass(frozen=True)
class ContainerPort:
    port: int
    protocol: str = "TCP"
    name: str | None = None


@dataclass(frozen=True)
class Pod:
    namespace: str
    name: str
    labels: Mapping[str, str] = field(default_factory=dict)
    ports: tuple[ContainerPort, ...] = ()
    ips: tuple[str, ...] = ()
    image: str = ""

    @property
    def key(self) -> str:
        """``namespace/name``: how the CLI, matrices and explanations name a pod."""
        return f"{self.namespace}/{self.name}"

    @property
    def ip(self) -> str | None:
        return self.ips[0] if self.ips else None

    @classmethod
    def from_manifest(cls, obj: Mapping[str, Any], namespace: str = "default") -> Pod:
        meta = obj["metadata"]
        spec = obj.get("spec") or {}
        status = obj.get("status") or {}
        ports: list[ContainerPort] = []
        image = ""
        for c in spec.get("containers") or ():
            image = image or str(c.get("image") or "")
            for p in c.get("ports") or ():
                ports.append(ContainerPort(int(p["containerPort"]), str(p.get("protocol") or "TCP"), p.get("name")))
        ips: list[str] = [str(i["ip"]) for i in status.get("podIPs") or () if i.get("ip")]
        if status.get("podIP") and str(status["podIP"]) not in ips:
            ips.insert(0, str(status["podIP"]))
        return cls(
            namespace=str(meta.get("namespace") or namespace),
            name=str(meta["name"]),
            labels=_labels(meta),
            ports=tuple(ports),
            ips=tuple(ips),
            image=image,
        )

    def resolve_port(self, name: str, protocol: str) -> int | None:
        """The number of this pod's container port called ``name`` for ``protocol``.

        A name may repeat across containers (the apiserver only warns: "services and probes
        that select ports by name will use" the first); the first container's port, in
        order, is the answer, for Services and for a policy's named port alike. Network
        plugins may differ here: one that collects every port of that name admits them all.
        """
        for p in self.ports:
            if p.name == name and p.protocol == protocol:
                return p.port
        return None

    def serves(self, port: int, protocol: str) -> bool:
        return any(p.port == port and p.protocol == protocol for p in self.ports)

    def with_labels(self, labels: Mapping[str, str]) -> Pod:
        return replace(self, labels=dict(labels))


@dataclass(frozen=True)
class ServicePort:
    port: int
    target_port: int | str
    protocol: str = "TCP"
    name: str | None = None


@dataclass(frozen=True)
class Service:
    namespace: str
    name: str
    selector: Mapping[str, str] | None = None
    ports: tuple[ServicePort, ...] = ()
    cluster_ip: str | None = None

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"

    @classmethod
    def from_manifest(cls, obj: Mapping[str, Any], namespace: str = "default") -> Service:
        meta = obj["metadata"]
        spec = obj.get("spec") or {}
        ports = tuple(
            ServicePort(
                port=int(p["port"]),
                target_port=p.get("targetPort", p["port"]),
                protocol=str(p.get("protocol") or "TCP"),
                name=p.get("name"),
            )
            for p in spec.get("ports") or ()
        )
        selector = spec.get("selector")
        ip = spec.get("clusterIP")
        return cls(
            namespace=str(meta.get("namespace") or namespace),
            name=str(meta["name"]),
            selector={str(k): str(v) for k, v in selector.items()} if selector is not None else None,
            ports=ports,
            cluster_ip=str(ip) if ip and ip != "None" else None,
        )

    def selects(self, pod: Pod) -> bool:
        """Whether ``pod`` is an endpoint (a selector-less service has none of its own)."""
        if not self.selector or pod.namespace != self.namespace:
            return False
        return all(pod.labels.get(k) == v for k, v in self.selector.items())

    def port_for(self, port: int, protocol: str = "TCP") -> ServicePort | None:
        for p in self.ports:
            if p.port == port and p.protocol == protocol:
                return p
        return None
