"""The cluster model: namespaces, pods, services and policies held in memory.

:class:`ClusterState` is what every question is asked of (matrix, explain, predictions).
The simulated backend keeps one and changes it; the live backend builds one from what the
apiserver returns. It assigns addresses the way a cluster does: pod IPs from
``10.244.0.0/16`` and service IPs from ``10.96.0.0/16``, in creation order, unless the
manifest gives them (``status.podIP(s)``, ``spec.clusterIP``).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from .errors import NotFoundError, UsageError
from .kinds import KINDS, canonical_kind, kind_info
from .model import NAME_LABEL, Namespace, Pod, Service, ServicePort
from .policy import NetworkPolicy
from .refs import Ref, namespace_of_key

POD_CIDR = ipaddress.ip_network("10.244.0.0/16")
_POD_BASE = int(POD_CIDR.network_address)
_POD_SIZE = POD_CIDR.num_addresses


def _pod_address(n: int) -> str:
    """``str(POD_CIDR[n])`` without building an address object (one per pod, thousands of pods)."""
    if not 0 <= n < _POD_SIZE:
        raise IndexError("address out of range")
    v = _POD_BASE + n
    return f"{v >> 24}.{v >> 16 & 255}.{v >> 8 & 255}.{v & 255}"
SERVICE_CIDR = ipaddress.ip_network("10.96.0.0/16")


@dataclass
class ClusterState:
    namespaces: dict[str, Namespace] = field(default_factory=dict)
    pods: dict[str, Pod] = field(default_factory=dict)
    services: dict[str, Service] = field(default_factory=dict)
    policies: dict[str, NetworkPolicy] = field(default_factory=dict)
    _next_pod_ip: int = 10
    _next_service_ip: int = 1
    # Addresses in use, kept by apply() so that assigning one is O(1); None: rebuild on demand.
    _pod_ips: dict[str, int] | None = field(default=None, repr=False, compare=False)
    _service_ips: set[str] | None = field(default=None, repr=False, compare=False)

    # -- building -------------------------------------------------------------------
    @classmethod
    def from_objects(cls, objects: Iterable[Mapping[str, Any]], namespace: str = "default") -> ClusterState:
        """A cluster holding validated manifest dicts, applied in order."""
        state = cls()
        for obj in objects:
            state.apply(obj, namespace)
        return state

    def copy(self) -> ClusterState:
        return replace(
            self,
            namespaces=dict(self.namespaces),
            pods=dict(self.pods),
            services=dict(self.services),
            policies=dict(self.policies),
            _pod_ips=None,
            _service_ips=None,
        )

    def ensure_namespace(self, name: str) -> Namespace:
        """The namespace ``name``, created implicitly if it was only referenced."""
        ns = self.namespaces.get(name)
        if ns is None:
            ns = self.namespaces[name] = Namespace(name, {NAME_LABEL: name})
        return ns

    def apply(self, obj: Mapping[str, Any], namespace: str = "default") -> tuple[str, bool]:
        """Create or replace one validated object; returns (``kind/name`` key, created?)."""
        kind = obj["kind"]
        if kind == "Namespace":
            ns = Namespace.from_manifest(obj)
            created = ns.name not in self.namespaces
            self.namespaces[ns.name] = ns
            return ns.name, created
        if kind == "Pod":
            pod = Pod.from_manifest(obj, namespace)
            self.ensure_namespace(pod.namespace)
            old = self.pods.get(pod.key)
            if not pod.ips:  # every field by name, not dataclasses.replace: several times cheaper per pod
                ips = old.ips if old and old.ips else (self._allocate_pod_ip(),)
                pod = Pod(namespace=pod.namespace, name=pod.name, labels=pod.labels, ports=pod.ports, ips=ips,
                          image=pod.image, containers=pod.containers, node=pod.node)
            self.pods[pod.key] = pod
            self._index_pod_ips(old, pod)
            return pod.key, old is None
        if kind == "Service":
            svc = Service.from_manifest(obj, namespace)
            self.ensure_namespace(svc.namespace)
            old_svc = self.services.get(svc.key)
            if svc.cluster_ip is None and (svc.selector is not None or svc.ports):
                ip = old_svc.cluster_ip if old_svc and old_svc.cluster_ip else self._allocate_service_ip()
                svc = Service(namespace=svc.namespace, name=svc.name, selector=svc.selector, ports=svc.ports,
                              cluster_ip=ip, type=svc.type, external_traffic_policy=svc.external_traffic_policy,
                              load_balancer_ip=svc.load_balancer_ip)  # by name, as for pods: cheaper than replace()
            self.services[svc.key] = svc
            if self._service_ips is not None and svc.cluster_ip:
                self._service_ips.add(svc.cluster_ip)
            return svc.key, old_svc is None
        if kind == "NetworkPolicy":
            pol = NetworkPolicy.from_manifest(obj, namespace)
            self.ensure_namespace(pol.namespace)
            created = pol.key not in self.policies
            self.policies[pol.key] = pol
            return pol.key, created
        raise UsageError(f"cannot apply kind {kind!r}: nphelpers knows {', '.join(KINDS)}")

    def _index_pod_ips(self, old: Pod | None, new: Pod) -> None:
        """Keep the count of pods per address current after ``old`` was replaced by ``new``."""
        counts = self._pod_ips
        if counts is None:
            return
        for ip in old.ips if old else ():
            left = counts.get(ip, 0) - 1
            if left > 0:
                counts[ip] = left
            else:
                counts.pop(ip, None)
        for ip in new.ips:
            counts[ip] = counts.get(ip, 0) + 1

    def _allocate_pod_ip(self) -> str:
        """The next free address of the pod network, in order (O(1): the taken set is kept)."""
        if self._pod_ips is None:
            counts: dict[str, int] = {}
            for p in self.pods.values():
                for ip in p.ips:
                    counts[ip] = counts.get(ip, 0) + 1
            self._pod_ips = counts
        taken = self._pod_ips
        while True:
            ip = _pod_address(self._next_pod_ip)
            self._next_pod_ip += 1
            if ip not in taken:
                return ip

    def _allocate_service_ip(self) -> str:
        if self._service_ips is None:  # rebuilt after a delete; apply() adds to it
            self._service_ips = {s.cluster_ip for s in self.services.values() if s.cluster_ip}
        taken = self._service_ips
        while True:
            ip = str(SERVICE_CIDR[self._next_service_ip])
            self._next_service_ip += 1
            if ip not in taken and ip != "10.96.0.10":  # kube-dns's well-known address
                return ip

    # -- changing -------------------------------------------------------------------
    def table(self, kind: str) -> dict[str, Any]:
        """The ``ns/name``-keyed table of a namespaced kind (pods, services, policies)."""
        return {"Pod": self.pods, "Service": self.services, "NetworkPolicy": self.policies}[canonical_kind(kind)]

    def has(self, kind: str, name: str, namespace: str = "default") -> bool:
        """Whether the object exists (``namespace`` is ignored for a Namespace)."""
        if canonical_kind(kind) == "Namespace":
            return name in self.namespaces
        return Ref(namespace, name).key in self.table(kind)

    def delete(self, kind: str, name: str, namespace: str = "default") -> None:
        info = kind_info(kind)
        if info.kind == "Namespace":
            if name not in self.namespaces:
                raise NotFoundError(f'{info.plural_resource} "{name}" not found')
            del self.namespaces[name]
            self._pod_ips = self._service_ips = None  # addresses freed: rebuilt when next needed
            for table in (self.pods, self.services, self.policies):
                for key in [k for k in table if namespace_of_key(k) == name]:
                    del table[key]
            return
        table = self.table(info.kind)
        key = Ref(namespace, name).key
        if key not in table:
            raise NotFoundError(f'{info.plural_resource} "{name}" not found in namespace "{namespace}"')
        del table[key]
        self._pod_ips = self._service_ips = None  # addresses freed: rebuilt when next needed

    def set_labels(self, kind: str, name: str, labels: Mapping[str, str], namespace: str = "default") -> None:
        """Replace the whole label set of a pod or namespace."""
        kind = canonical_kind(kind)
        if kind == "Namespace":
            if name not in self.namespaces:
                raise NotFoundError(f'namespaces "{name}" not found')
            self.namespaces[name] = Namespace(name, dict(labels))
            return
        if kind != "Pod":
            raise UsageError(f"labels can be changed on pods and namespaces here, not {kind}")
        pod = self.pod(Ref(namespace, name).key)
        self.pods[pod.key] = pod.with_labels(labels)

    # -- reading --------------------------------------------------------------------
    def pod(self, key: str) -> Pod:
        try:
            return self.pods[key]
        except KeyError:
            ns, _, name = key.rpartition("/")
            raise NotFoundError(f'pods "{name}" not found in namespace "{ns or "default"}"') from None

    def namespace_of(self, pod: Pod) -> Namespace:
        return self.namespaces.get(pod.namespace) or Namespace(pod.namespace)

    def pod_by_ip(self, ip: str) -> Pod | None:
        for pod in self.pods.values():
            if ip in pod.ips:
                return pod
        return None

    def endpoints(self, service: Service, port: ServicePort | None = None) -> list[Pod]:
        """Pods behind a service (for one of its ports), sorted by name (the simulator's pick is the first).

        As the endpoints controller builds them: a pod is an endpoint of ``port`` only if it
        defines the port's ``targetPort`` when that is a name (same name and protocol, the
        first such container port); a number is always defined.
        """
        pods = (p for p in self.pods.values() if service.selects(p))
        if port is not None and isinstance(port.target_port, str):
            pods = (p for p in pods if p.resolve_port(str(port.target_port), port.protocol) is not None)
        return sorted(pods, key=lambda p: p.key)

    def service_by_ip(self, ip: str) -> Service | None:
        for svc in self.services.values():
            if svc.cluster_ip == ip:
                return svc
        return None
