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
class Container:
    """What runs in one container, as far as traffic cares: the image, its command line and env.

    ``argv`` is ``command`` then ``args`` as written (empty: the image's own entrypoint and cmd).
    """

    name: str
    image: str
    argv: tuple[str, ...] = ()
    env: tuple[tuple[str, str], ...] = ()
    ports: tuple[ContainerPort, ...] = ()


_Built = tuple[tuple[ContainerPort, ...], str, tuple[Container, ...]]
_BUILT: dict[str, _Built] = {}  # containers already built, by the repr of their manifest list


def _containers(raw: Any) -> _Built:
    """A pod's container ports, first image and containers, built once per distinct list.

    The replicas of a workload share one container list: its ``repr`` (which tells ``1``
    from ``True`` and ``"1"``) finds the immutable values built for an equal list before.
    """
    key = repr(raw)
    built = _BUILT.get(key)
    if built is not None:
        return built
    ports: list[ContainerPort] = []
    containers: list[Container] = []
    image = ""
    for c in raw:
        image = image or str(c.get("image") or "")
        mine = tuple(ContainerPort(int(p["containerPort"]), str(p.get("protocol") or "TCP"), p.get("name"))
                     for p in c.get("ports") or ())
        ports.extend(mine)
        argv = tuple(str(a) for a in [*(c.get("command") or ()), *(c.get("args") or ())])
        env = tuple((str(e.get("name")), str(e.get("value") or "")) for e in c.get("env") or () if e.get("name"))
        containers.append(Container(str(c.get("name") or ""), str(c.get("image") or ""), argv, env, mine))
    built = (tuple(ports), image, tuple(containers))
    if len(key) <= 4096:  # bounded: at most 10,000 entries of at most 4 KiB
        if len(_BUILT) >= 10_000:
            _BUILT.clear()
        _BUILT[key] = built
    return built


@dataclass(frozen=True)
class Pod:
    namespace: str
    name: str
    labels: Mapping[str, str] = field(default_factory=dict)
    ports: tuple[ContainerPort, ...] = ()
    ips: tuple[str, ...] = ()
    image: str = ""
    containers: tuple[Container, ...] = ()
    node: str | None = None  # spec.nodeName; None: wherever the scheduler puts it

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
        ports, image, containers = _containers(spec.get("containers") or ())
        ips: list[str] = [str(i["ip"]) for i in status.get("podIPs") or () if i.get("ip")]
        if status.get("podIP") and str(status["podIP"]) not in ips:
            ips.insert(0, str(status["podIP"]))
        return cls(
            namespace=str(meta.get("namespace") or namespace),
            name=str(meta["name"]),
            labels=_labels(meta),
            ports=ports,
            ips=tuple(ips),
            image=image,
            containers=containers,
            node=str(spec["nodeName"]) if spec.get("nodeName") else None,
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
    node_port: int | None = None  # NodePort and LoadBalancer services: the port every node opens


EXTERNAL_TYPES = ("NodePort", "LoadBalancer")


@dataclass(frozen=True)
class Service:
    namespace: str
    name: str
    selector: Mapping[str, str] | None = None
    ports: tuple[ServicePort, ...] = ()
    cluster_ip: str | None = None
    type: str = "ClusterIP"
    external_traffic_policy: str | None = None  # "Cluster" (the default) or "Local"; NodePort/LoadBalancer only
    load_balancer_ip: str | None = None  # status.loadBalancer.ingress[0].ip, once a provider assigned one

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"

    @property
    def external(self) -> bool:
        """Whether clients outside the cluster can reach it (``type: NodePort`` or ``LoadBalancer``)."""
        return self.type in EXTERNAL_TYPES

    @property
    def traffic_policy(self) -> str:
        """``externalTrafficPolicy`` as the apiserver defaults it: ``Cluster`` unless ``Local``."""
        return self.external_traffic_policy or "Cluster"

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
                node_port=int(p["nodePort"]) if p.get("nodePort") else None,
            )
            for p in spec.get("ports") or ()
        )
        selector = spec.get("selector")
        ip = spec.get("clusterIP")
        ingress = ((obj.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
        lb_ip = next((str(i["ip"]) for i in ingress if isinstance(i, Mapping) and i.get("ip")), None)
        return cls(
            namespace=str(meta.get("namespace") or namespace),
            name=str(meta["name"]),
            selector={str(k): str(v) for k, v in selector.items()} if selector is not None else None,
            ports=ports,
            cluster_ip=str(ip) if ip and ip != "None" else None,
            type=str(spec.get("type") or "ClusterIP"),
            external_traffic_policy=str(spec["externalTrafficPolicy"]) if spec.get("externalTrafficPolicy") else None,
            load_balancer_ip=lb_ip,
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

    def node_port_for(self, node_port: int, protocol: str = "TCP") -> ServicePort | None:
        """The service port behind ``node_port`` (``None`` unless the service is NodePort/LoadBalancer)."""
        if not self.external:
            return None
        for p in self.ports:
            if p.node_port == node_port and p.protocol == protocol:
                return p
        return None
