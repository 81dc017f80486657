"""The embedded simulator: a cluster in memory that answers like a kind cluster would.

It keeps a :class:`~nphelpers.cluster.ClusterState`, has CoreDNS pods in ``kube-system``
(labelled ``k8s-app=kube-dns`` as in a real cluster, behind the ``kube-dns`` Service at
``10.96.0.10``), and judges every probe with :func:`nphelpers.engine.evaluate`:

* a host name is looked up first: the source's egress (and CoreDNS's ingress) must admit
  UDP/53 to a CoreDNS pod, else busybox prints ``wget: bad address '<host>'``;
* a Service address is translated to its first endpoint (pods sorted by name; a real
  kube-proxy picks one at random) and its ``targetPort``, so policies see the pod's port;
* a dropped connection is a timeout (``wget: download timed out``), nothing listening is
  ``Connection refused``, and an nginx pod answers with nginx's welcome page.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from .. import kubectl
from ..cluster import ClusterState, canonical_kind
from ..engine import Verdict, evaluate
from ..errors import NotFoundError
from ..model import SYSTEM_NAMESPACE, Pod, Service
from ..policy import ip_value
from .base import Outcome, ProbeResult

DNS_SERVICE_IP = "10.96.0.10"
COREDNS_LABELS = {"k8s-app": "kube-dns"}
CLUSTER_DOMAIN = "cluster.local"


def _system_objects() -> list[dict[str, Any]]:
    """kube-system as kind sets it up: two CoreDNS pods behind the kube-dns Service."""
    pods = [
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": f"coredns-{i}", "namespace": SYSTEM_NAMESPACE, "labels": dict(COREDNS_LABELS)},
            "spec": {
                "containers": [
                    {
                        "name": "coredns",
                        "image": "registry.k8s.io/coredns/coredns",
                        "ports": [
                            {"name": "dns", "containerPort": 53, "protocol": "UDP"},
                            {"name": "dns-tcp", "containerPort": 53, "protocol": "TCP"},
                            {"name": "metrics", "containerPort": 9153, "protocol": "TCP"},
                        ],
                    }
                ]
            },
            "status": {"podIP": f"10.244.0.{2 + i}"},
        }
        for i in range(2)
    ]
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "kube-dns", "namespace": SYSTEM_NAMESPACE, "labels": {"k8s-app": "kube-dns"}},
        "spec": {
            "selector": dict(COREDNS_LABELS),
            "clusterIP": DNS_SERVICE_IP,
            "ports": [
                {"name": "dns", "port": 53, "protocol": "UDP", "targetPort": 53},
                {"name": "dns-tcp", "port": 53, "protocol": "TCP", "targetPort": 53},
                {"name": "metrics", "port": 9153, "protocol": "TCP", "targetPort": 9153},
            ],
        },
    }
    kubernetes = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "kubernetes", "namespace": "default", "labels": {"component": "apiserver"}},
        "spec": {"clusterIP": "10.96.0.1", "ports": [{"name": "https", "port": 443, "targetPort": 6443}]},
    }
    namespaces = [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}
        for name in ("default", SYSTEM_NAMESPACE)
    ]
    return [*namespaces, *pods, service, kubernetes]


@dataclass(frozen=True)
class Route:
    """Where a wget goes: the address it connects to and, inside the cluster, the pod and port."""

    address: str
    pod: Pod | None
    port: int
    service: Service | None = None
    reachable: bool = True  # False: the address:port leads nowhere (a Service port that does not exist)


@dataclass
class SimulatedCluster:
    """An in-memory cluster implementing :class:`~nphelpers.backends.base.Backend`.

    ``external_hosts`` maps names outside the cluster to addresses (for egress lessons);
    ``external_body`` is what such a host answers.
    """

    name: str = "simulated"
    external_hosts: dict[str, str] = field(default_factory=lambda: {"example.com": "93.184.215.14"})
    external_body: str = ""
    _state: ClusterState = field(default_factory=ClusterState)
    _created: dict[tuple[str, str, str], None] = field(default_factory=dict)
    _created_namespaces: dict[str, None] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for obj in _system_objects():
            self._state.apply(obj)

    # -- the Backend verbs ----------------------------------------------------------
    def apply(self, objects: Sequence[Mapping[str, Any]]) -> list[str]:
        lines = []
        for obj in objects:
            kind = obj["kind"]
            ns_name = (obj.get("metadata") or {}).get("namespace") or "default"
            if kind != "Namespace" and ns_name not in self._state.namespaces:
                self._created_namespaces.setdefault(ns_name)  # created on the way, as the live backend does
            before = self._manifest_of(kind, obj)
            key, created = self._state.apply(copy.deepcopy(dict(obj)))
            ns, _, name = key.rpartition("/")
            self._created.setdefault((kind, ns, name))
            if created:
                action = "created"
            elif before is not None and _same_spec(before, obj):
                action = "unchanged"
            else:
                action = "configured"
            lines.append(kubectl.applied(kind, name, action))
        return lines

    def delete(self, kind: str, name: str, namespace: str = "default") -> str:
        kind = canonical_kind(kind)
        self._state.delete(kind, name, namespace)
        self._created.pop((kind, "" if kind == "Namespace" else namespace, name), None)
        return kubectl.deleted(kind, name)

    def label(self, kind: str, name: str, labels: Mapping[str, str | None], namespace: str = "default") -> str:
        kind = canonical_kind(kind)
        if kind == "Namespace":
            if name not in self._state.namespaces:
                raise NotFoundError(f'namespaces "{name}" not found')
            current = dict(self._state.namespaces[name].labels)
        else:
            current = dict(self._state.pod(f"{namespace}/{name}").labels)
        line = kubectl.label_output(kind, name, current, labels)
        for key, value in labels.items():
            if value is None:
                current.pop(key, None)
            else:
                current[key] = value
        self._state.set_labels(kind, name, current, namespace)
        return line

    def state(self) -> ClusterState:
        return self._state.copy()

    def cleanup(self) -> list[str]:
        """Delete what was applied here (policies first, then services, pods, namespaces).

        A namespace created on the way is deleted too once nothing else is left in it.
        """
        order = {"NetworkPolicy": 0, "Service": 1, "Pod": 2, "Namespace": 3}
        lines = []
        for kind, ns, name in sorted(self._created, key=lambda k: (order[k[0]], k[1], k[2])):
            try:
                lines.append(self.delete(kind, name, ns or "default"))
            except NotFoundError:
                continue
        for ns in sorted(self._created_namespaces):
            if ns not in self._state.namespaces:
                continue
            left = [k for table in (self._state.pods, self._state.services, self._state.policies)
                    for k in table if k.split("/", 1)[0] == ns]
            if left:
                lines.append(f'namespace "{ns}" kept: it holds {len(left)} object(s) nphelpers did not create')
            else:
                lines.append(self.delete("namespace", ns))
        self._created.clear()
        self._created_namespaces.clear()
        return lines

    def wget(self, source: str, url: str, timeout: int = 2) -> ProbeResult:
        src = self._state.pod(source if "/" in source else f"default/{source}")
        command = kubectl.wget_command(src.name, url, timeout=timeout, namespace=src.namespace)
        outcome, output = self._wget(src, url)
        return ProbeResult(src.key, url, outcome, output, command)

    # -- probing --------------------------------------------------------------------
    def _wget(self, src: Pod, url: str) -> tuple[Outcome, str]:
        parts = urlsplit(url if "://" in url else f"http://{url}")
        host = parts.hostname or ""
        port = parts.port or (443 if parts.scheme == "https" else 80)
        address = self.resolve(src, host)
        if address is None:
            return "dns-failure", kubectl.wget_bad_address(parts.netloc)
        route = self.route(address, port)
        if not route.reachable:
            return "blocked", kubectl.WGET_TIMEOUT
        if route.pod is None and route.service is not None:
            return "refused", kubectl.wget_refused(address)  # a Service without endpoints rejects
        if route.pod is None:
            if not evaluate(self._state, src, address, port, "TCP").allowed:
                return "blocked", kubectl.WGET_TIMEOUT
            return "allowed", self.external_body
        if not evaluate(self._state, src, route.pod, route.port, "TCP").allowed:
            return "blocked", kubectl.WGET_TIMEOUT
        if not _listens(route.pod, route.port):
            return "refused", kubectl.wget_refused(address)
        return "allowed", _http_body(route.pod)

    def dns_verdict(self, src: Pod) -> Verdict | None:
        """The verdict on ``src``'s lookup to the first CoreDNS pod that admits it (else the first)."""
        verdicts = [
            evaluate(self._state, src, pod, 53, "UDP")
            for pod in self._state.pods.values()
            if pod.namespace == SYSTEM_NAMESPACE and all(pod.labels.get(k) == v for k, v in COREDNS_LABELS.items())
        ]
        for v in verdicts:
            if v.allowed:
                return v
        return verdicts[0] if verdicts else None

    def resolve(self, src: Pod, host: str) -> str | None:
        """The address ``host`` resolves to from ``src``, or None (no such name, or DNS is blocked)."""
        if ip_value(host) is not None:
            return host
        dns = self.dns_verdict(src)
        if dns is None or not dns.allowed:
            return None
        for name in _search_list(host, src.namespace):
            labels = name.split(".")
            if len(labels) >= 2 and ".".join(labels[2:]) == f"svc.{CLUSTER_DOMAIN}":
                svc = self._state.services.get(f"{labels[1]}/{labels[0]}")
                if svc is not None and svc.cluster_ip:
                    return svc.cluster_ip
        return self.external_hosts.get(host.rstrip("."))

    def route(self, address: str, port: int) -> Route:
        """Follow ``address:port`` as kube-proxy would: a Service to its endpoint, a pod IP to the pod."""
        svc = self._state.service_by_ip(address)
        if svc is not None:
            sport = svc.port_for(port, "TCP")
            if sport is None:
                return Route(address, None, port, svc, reachable=False)
            endpoints = self._state.endpoints(svc)
            if not endpoints:
                return Route(address, None, port, svc)
            pod = endpoints[0]
            target = sport.target_port
            if isinstance(target, str):
                resolved = pod.resolve_port(target, "TCP")
                if resolved is None:
                    return Route(address, pod, port, svc, reachable=False)
                target = resolved
            return Route(address, pod, int(target), svc)
        pod = self._state.pod_by_ip(address)
        return Route(address, pod, port)

    def _manifest_of(self, kind: str, obj: Mapping[str, Any]) -> Mapping[str, Any] | None:
        if kind != "NetworkPolicy":
            return None
        meta = obj.get("metadata") or {}
        old = self._state.policies.get(f"{meta.get('namespace') or 'default'}/{meta.get('name')}")
        return old.manifest if old else None


def _same_spec(before: Mapping[str, Any], after: Mapping[str, Any]) -> bool:
    return before.get("spec") == after.get("spec") and (before.get("metadata") or {}).get("labels") == (
        after.get("metadata") or {}
    ).get("labels")


def _search_list(host: str, namespace: str) -> list[str]:
    """The names resolv.conf's search path makes of ``host`` in a pod of ``namespace`` (ndots:5)."""
    host = host.rstrip(".")
    suffixes = [f"{namespace}.svc.{CLUSTER_DOMAIN}", f"svc.{CLUSTER_DOMAIN}", CLUSTER_DOMAIN]
    return [f"{host}.{s}" for s in suffixes] + [host]


def _listens(pod: Pod, port: int) -> bool:
    """A pod listens on its declared TCP container ports; nginx without declared ports on 80."""
    if pod.ports:
        return pod.serves(port, "TCP")
    return _is_nginx(pod) and port == 80


def _is_nginx(pod: Pod) -> bool:
    image = pod.image.rsplit("/", 1)[-1]
    return image == "nginx" or image.startswith(("nginx:", "nginx@"))


def _http_body(pod: Pod) -> str:
    return kubectl.nginx_index() if _is_nginx(pod) else ""
