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
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from .. import kubectl
from ..cluster import ClusterState
from ..engine import Verdict, evaluate
from ..errors import BackendError, NotFoundError
from ..kinds import KINDS, kind_info
from ..model import SYSTEM_NAMESPACE, Namespace, Pod, Service
from ..policy import ip_value
from ..refs import Ref, namespace_of_key
from .base import Applied, Deleted, Kept, Labeled, Outcome, ProbeResult

DNS_SERVICE_IP = "10.96.0.10"
COREDNS_LABELS = {"k8s-app": "kube-dns"}
CLUSTER_DOMAIN = "cluster.local"
MANAGED_BY_LABEL, MANAGED_BY_VALUE = "app.kubernetes.io/managed-by", "nphelpers"
NGINX_PORT = 80  # where the stock nginx image listens (its default.conf: listen 80)


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
    _created: dict[tuple[str, str, str], None] = field(default_factory=dict)  # (kind, namespace or "", name)
    _created_namespaces: dict[str, None] = field(default_factory=dict)
    _manifests: dict[tuple[str, str, str], dict[str, Any]] = field(default_factory=dict)  # as last applied

    def __post_init__(self) -> None:
        for obj in _system_objects():
            self._state.apply(obj)

    # -- the Backend verbs ----------------------------------------------------------
    def apply(self, objects: Sequence[Mapping[str, Any]]) -> list[Applied]:
        """Apply validated manifests all or nothing: on a copy of the state, kept only if all apply."""
        trial = self._state.copy()
        facts: list[Applied] = []
        created: list[tuple[str, str, str]] = []
        on_the_way: list[str] = []
        manifests: dict[tuple[str, str, str], dict[str, Any]] = {}
        for obj in objects:
            info = kind_info(str(obj["kind"]))
            ref = Ref.of(obj, "default")
            ns = "" if info.kind == "Namespace" else ref.namespace
            if ns and ns not in trial.namespaces:
                # Created on the way and labelled as nphelpers', as the live backend does.
                trial.namespaces[ns] = Namespace(ns, {MANAGED_BY_LABEL: MANAGED_BY_VALUE})
                on_the_way.append(ns)
            key3 = (info.kind, ns, ref.name)
            before = manifests.get(key3, self._manifests.get(key3))
            _, was_created = trial.apply(copy.deepcopy(dict(obj)))
            if was_created:
                action = "created"
                created.append(key3)
            elif before is not None and _same_content(before, obj):
                action = "unchanged"
            else:
                action = "configured"
            manifests[key3] = copy.deepcopy(dict(obj))
            facts.append(Applied(info.kind, ref.name, None if info.kind == "Namespace" else ref.namespace, action))
        self._state = trial
        self._manifests.update(manifests)
        for key3 in created:
            self._created.setdefault(key3)
        for ns in on_the_way:
            self._created_namespaces.setdefault(ns)
        return facts

    def _own(self, kind: str, namespace: str, name: str, verb: str) -> None:
        """Like the live backend, a guest: change only what was applied here (and lesson ``default``)."""
        ns = "" if kind == "Namespace" else namespace
        if (kind, ns, name) in self._created or (kind == "Namespace" and name in self._created_namespaces):
            return
        if kind == "Namespace" and name == "default" and verb == "label":
            return  # the lesson's default namespace (the live backend's lab namespace) is the lab's to label
        where = "" if kind == "Namespace" else f" in namespace {namespace!r}"
        raise BackendError(
            f"refusing to {verb} {kind_info(kind).resource}/{name}{where}: nphelpers did not create it"
        )

    def delete(self, kind: str, name: str, namespace: str = "default") -> Deleted:
        info = kind_info(kind)
        fact_ns = None if info.kind == "Namespace" else namespace
        if not self._state.has(info.kind, name, namespace):
            return Deleted(info.kind, name, fact_ns, found=False)
        self._own(info.kind, namespace, name, "delete")
        self._state.delete(info.kind, name, namespace)
        key3 = (info.kind, "" if fact_ns is None else namespace, name)
        self._created.pop(key3, None)
        self._manifests.pop(key3, None)
        if info.kind == "Namespace":
            self._created_namespaces.pop(name, None)
            for k in [k for k in self._created if k[1] == name]:
                self._created.pop(k)
                self._manifests.pop(k, None)
        return Deleted(info.kind, name, fact_ns)

    def label(self, kind: str, name: str, labels: Mapping[str, str | None], namespace: str = "default") -> Labeled:
        info = kind_info(kind)
        if info.kind == "Namespace":
            if name not in self._state.namespaces:
                raise NotFoundError(f'{info.plural_resource} "{name}" not found')
            current = dict(self._state.namespaces[name].labels)
        elif info.kind == "Pod":
            current = dict(self._state.pod(Ref(namespace, name).key).labels)
        else:
            raise BackendError(f"labels can be changed on pods and namespaces here, not {info.resource}")
        self._own(info.kind, namespace, name, "label")
        old = dict(current)
        for key, value in labels.items():
            if value is None:
                current.pop(key, None)
            else:
                current[key] = value
        self._state.set_labels(info.kind, name, current, namespace)
        key3 = (info.kind, "" if info.kind == "Namespace" else namespace, name)
        if key3 in self._manifests:  # what a later apply compares with: the object as it is now
            meta = self._manifests[key3].setdefault("metadata", {})
            meta["labels"] = dict(current)
        ns = None if info.kind == "Namespace" else namespace
        return Labeled(info.kind, name, ns, old, dict(self._state_labels(info.kind, name, namespace)), dict(labels))

    def _state_labels(self, kind: str, name: str, namespace: str) -> Mapping[str, str]:
        if kind == "Namespace":
            return self._state.namespaces[name].labels
        return self._state.pods[Ref(namespace, name).key].labels

    def state(self) -> ClusterState:
        return self._state.copy()

    def cleanup(self) -> list[Deleted | Kept]:
        """Delete what was applied here (in :data:`~nphelpers.kinds.KINDS` cleanup order), then
        the namespaces created here once nothing else is left in them; ``default`` never."""
        order = {k: info.cleanup_order for k, info in KINDS.items()}
        facts: list[Deleted | Kept] = []
        for kind, ns, name in sorted(self._created, key=lambda k: (order[k[0]], k[1], k[2])):
            if kind == "Namespace":
                self._created_namespaces.setdefault(name)
                continue
            if self._state.has(kind, name, ns):
                facts.append(self.delete(kind, name, ns))
        for ns in sorted(self._created_namespaces):
            if ns not in self._state.namespaces or ns in ("default", SYSTEM_NAMESPACE):
                continue
            left = [k for kind in ("Pod", "Service", "NetworkPolicy") for k in self._state.table(kind)
                    if namespace_of_key(k) == ns]
            if left:
                facts.append(Kept("Namespace", ns, None, f"it holds {len(left)} object(s) nphelpers did not create"))
            else:
                self._created_namespaces.pop(ns, None)
                self._state.delete("Namespace", ns)
                facts.append(Deleted("Namespace", ns, None))
        self._created.clear()
        self._created_namespaces.clear()
        self._manifests.clear()
        return facts

    def wget(self, source: str, url: str, timeout: int = 2) -> ProbeResult:
        src = self._state.pod(Ref.parse(source, "default", what="source pod").key)
        command = kubectl.wget_command(src.name, url, timeout=timeout, namespace=src.namespace)
        outcome, output = self._wget(src, url)
        return ProbeResult(src.key, url, outcome, output, command)

    def probe_stable(self, source: str, url: str, timeout: int = 2) -> ProbeResult:
        """The simulator's verdict never flaps: one probe is the stable answer."""
        return self.wget(source, url, timeout)

    def sweep(
        self, pairs: Iterable[tuple[str, str]], port: int, max_workers: int = 8
    ) -> dict[tuple[str, str], ProbeResult]:
        """Probe (source pod, destination pod key or IP) pairs at ``http://<IP>:<port>/``."""
        results = {}
        for src, dst in dict.fromkeys(pairs):
            host = self._state.pod(dst).ip if "/" in dst else dst
            host = f"[{host}]" if host and ":" in host else host
            results[(src, dst)] = self.wget(src, f"http://{host}:{int(port)}/")
        return results

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
            endpoints = self._state.endpoints(svc, sport)
            if not endpoints:
                return Route(address, None, port, svc)  # no endpoints: kube-proxy rejects
            pod = endpoints[0]
            target = sport.target_port
            if isinstance(target, str):
                target = pod.resolve_port(target, sport.protocol) or 0  # an endpoint defines it
            return Route(address, pod, int(target), svc)
        pod = self._state.pod_by_ip(address)
        return Route(address, pod, port)


def _same_content(before: Mapping[str, Any], after: Mapping[str, Any]) -> bool:
    """Whether applying ``after`` over ``before`` changes nothing kubectl apply would report."""
    def labels(o: Mapping[str, Any]) -> Any:
        return (o.get("metadata") or {}).get("labels") or {}

    return before.get("spec") == after.get("spec") and labels(before) == labels(after)


def _search_list(host: str, namespace: str) -> list[str]:
    """The names resolv.conf's search path makes of ``host`` in a pod of ``namespace`` (ndots:5)."""
    host = host.rstrip(".")
    suffixes = [f"{namespace}.svc.{CLUSTER_DOMAIN}", f"svc.{CLUSTER_DOMAIN}", CLUSTER_DOMAIN]
    return [f"{host}.{s}" for s in suffixes] + [host]


def _listens(pod: Pod, port: int) -> bool:
    """Where the pod's server really listens: its image decides, not ``containerPort``.

    Stock nginx listens on 80 whatever the pod declares (``containerPort`` is informational
    in Kubernetes), so ``lab.run(image="nginx", port=8080)`` refuses on 8080, as on a real
    cluster. Another image is taken to listen on its declared TCP ports.
    """
    if _is_nginx(pod):
        return port == NGINX_PORT
    return pod.serves(port, "TCP")


def _is_nginx(pod: Pod) -> bool:
    image = pod.image.rsplit("/", 1)[-1]
    return image == "nginx" or image.startswith(("nginx:", "nginx@"))


def _http_body(pod: Pod) -> str:
    return kubectl.nginx_index() if _is_nginx(pod) else ""
