"""The embedded simulator: a cluster in memory that answers like a kind cluster would.

It keeps a :class:`~nphelpers.cluster.ClusterState`, has CoreDNS pods in ``kube-system``
(labelled ``k8s-app=kube-dns`` as in a real cluster, behind the ``kube-dns`` Service at
``10.96.0.10``), and judges every probe with the traffic model of :mod:`nphelpers.traffic` (DNS, Services,
policies, who listens), printing what the tools print (:mod:`nphelpers.busybox`):

* a host name is looked up first: the source's egress (and CoreDNS's ingress) must admit
  UDP/53 to a CoreDNS pod, else busybox prints ``wget: bad address '<host>'``;
* a Service address is translated to its first endpoint (pods sorted by name; a real
  kube-proxy picks one at random) and its ``targetPort``, so policies see the pod's port;
* a dropped connection is a timeout (``wget: download timed out``), nothing listening is
  ``Connection refused``, and an nginx pod answers with nginx's welcome page.

Its nodes are kind's (:data:`nphelpers.traffic.KIND_NODES`: a control plane and a worker that
runs every pod); NodePorts are allocated from 30000 up, LoadBalancer addresses from
:data:`LB_POOL`, and a client "outside" defaults to :data:`HOST_ADDRESS`, the address the machine
running kind has on kind's docker network.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from .. import busybox, kubectl, traffic
from ..cluster import ClusterState
from ..engine import Verdict
from ..errors import BackendError, NotFoundError, UsageError
from ..kinds import KINDS, kind_info
from ..model import EXTERNAL_TYPES, SYSTEM_NAMESPACE, Namespace, Pod
from ..refs import Ref, namespace_of_key
from ..traffic import CLUSTER_DOMAIN, COREDNS_LABELS, DNS_SERVICE_IP, NGINX_PORT, Route  # noqa: F401 (public here too)
from .base import Applied, Deleted, Kept, Labeled, Outcome, OutsideProbe, Probe, ProbeResult

MANAGED_BY_LABEL, MANAGED_BY_VALUE = "app.kubernetes.io/managed-by", "nphelpers"
NODE_PORT_RANGE = (30000, 32767)  # the apiserver's default --service-node-port-range
LB_POOL = "172.18.255.200"  # the first LoadBalancer address handed out (then .201, ...)
HOST_ADDRESS = "172.18.0.1"  # the host on kind's docker network (its gateway): "outside" on kind


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


@dataclass
class SimulatedCluster:
    """An in-memory cluster implementing :class:`~nphelpers.backends.base.Backend`.

    ``external_hosts`` maps names outside the cluster to addresses (for egress lessons);
    ``external_body`` is what such a host answers.
    """

    name: str = "simulated"
    external_hosts: dict[str, str] = field(default_factory=lambda: {"example.com": "93.184.215.14"})
    external_body: str = ""
    node_list: tuple[traffic.Node, ...] = traffic.KIND_NODES
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
            body = copy.deepcopy(dict(obj))
            if info.kind == "Service":
                self._allocate(trial, body, ref.key)
            _, was_created = trial.apply(body)
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

    # -- probing --------------------------------------------------------------------
    def _allocate(self, state: ClusterState, body: dict[str, Any], key: str) -> None:
        """What the apiserver fills in for a NodePort/LoadBalancer Service: its node ports (kept on
        re-apply) and, as a cloud provider would, a LoadBalancer address in ``status``."""
        spec = body.get("spec") or {}
        if spec.get("type") not in EXTERNAL_TYPES:
            return
        old = state.services.get(key)
        taken = {p.node_port for s in state.services.values() if s.key != key for p in s.ports if p.node_port}
        for port in spec.get("ports") or []:
            if port.get("nodePort"):
                continue
            kept = old.port_for(int(port["port"]), str(port.get("protocol") or "TCP")) if old else None
            number = kept.node_port if kept is not None and kept.node_port else None
            if number is None:
                number = next(n for n in range(NODE_PORT_RANGE[0], NODE_PORT_RANGE[1] + 1) if n not in taken)
            port["nodePort"] = number
            taken.add(number)
        if spec.get("type") == "LoadBalancer":
            ip = old.load_balancer_ip if old and old.load_balancer_ip else None
            if ip is None:
                used = {s.load_balancer_ip for s in state.services.values()}
                base = LB_POOL.rsplit(".", 1)
                ip = next(f"{base[0]}.{n}" for n in range(int(base[1]), 255) if f"{base[0]}.{n}" not in used)
            body["status"] = {"loadBalancer": {"ingress": [{"ip": ip}]}}

    def nodes(self) -> list[tuple[str, str]]:
        return [(n.name, n.ip) for n in self.node_list]

    def wget(self, source: str, url: str, timeout: int = 2) -> ProbeResult:
        src = self._state.pod(Ref.parse(source, "default", what="source pod").key)
        command = kubectl.wget_command(src.name, url, timeout=timeout, namespace=src.namespace)
        outcome, output, code = self._wget(src, url)
        return ProbeResult(src.key, url, outcome, output, command, code)

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

    def _wget(self, src: Pod, url: str) -> tuple[Outcome, str, int]:
        parts = urlsplit(url if "://" in url else f"http://{url}")
        host = parts.hostname or ""
        port = parts.port or (443 if parts.scheme == "https" else 80)
        conn = traffic.connect(self._state, src, host, port, "TCP", self.external_hosts)
        return _wget_text(conn, parts.netloc, parts.path or "/", self.external_body)

    def exec_probe(self, probe: Probe, stable: bool = True) -> ProbeResult:
        """``nc -v -w T HOST PORT`` or ``/agnhost connect HOST:PORT`` in ``probe.source``, judged by the model."""
        src = self._state.pod(Ref.parse(probe.source, "default", what="source pod").key)
        if probe.tool == "nc":
            command = kubectl.nc_command(src.name, probe.host, probe.port, probe.timeout, src.namespace)
            conn = traffic.connect(self._state, src, probe.host, probe.port, "TCP", self.external_hosts)
            outcome, text, code = nc_text(conn, probe.host)
        else:
            if not any(traffic.is_image(c.image, "agnhost") for c in src.containers):
                raise UsageError(
                    f"pod {src.key} has no /agnhost to run: run the client with image='agnhost' "
                    "(upstream's e2e test image) for UDP and SCTP probes"
                )
            command = kubectl.connect_command(src.name, probe.host, probe.port, probe.protocol, probe.timeout,
                                              src.namespace)
            conn = traffic.connect(self._state, src, probe.host, probe.port, probe.protocol, self.external_hosts)
            outcome, text, code = connect_text(conn, probe.host, src, dns_blocked=self._dns_blocked(src))
        return ProbeResult(src.key, f"{probe.host}:{probe.port}/{probe.protocol}", outcome, text, command, code)

    def outside_probe(self, probe: OutsideProbe) -> ProbeResult:
        client = probe.client or HOST_ADDRESS
        conn = traffic.from_outside(self._state, self.node_list, client, probe.address, probe.port, "TCP")
        netloc = busybox.hostport(probe.address, probe.port)
        url = f"http://{netloc}{probe.path}"
        outcome, text, code = _wget_text(conn, netloc, probe.path, "")
        return ProbeResult(f"outside/{client}", url, outcome, text, kubectl.outside_wget_command(url, probe.timeout),
                           code)

    def _dns_blocked(self, src: Pod) -> bool:
        dns = traffic.dns_verdict(self._state, src)
        return dns is None or not dns.allowed

    def dns_verdict(self, src: Pod) -> Verdict | None:
        """The verdict on ``src``'s lookup to the first CoreDNS pod that admits it (else the first)."""
        return traffic.dns_verdict(self._state, src)

    def resolve(self, src: Pod, host: str) -> str | None:
        """The address ``host`` resolves to from ``src``, or None (no such name, or DNS is blocked)."""
        return traffic.resolve(self._state, src, host, self.external_hosts)

    def route(self, address: str, port: int) -> Route:
        """Follow ``address:port`` as kube-proxy would: a Service to its endpoint, a pod IP to the pod."""
        return traffic.route(self._state, address, port)


def _wget_text(conn: traffic.Connection, netloc: str, path: str, external_body: str) -> tuple[Outcome, str, int]:
    """busybox ``wget -qO-``'s output and exit status for a connection (``netloc`` as in the URL)."""
    if conn.outcome == "dns-failure":
        return "dns-failure", busybox.wget_bad_address(netloc), 1
    if conn.outcome == "blocked":
        return "blocked", busybox.WGET_TIMEOUT, 1
    if conn.outcome == "refused":
        return "refused", busybox.wget_refused(str(conn.address)), 1
    if conn.pod is None:
        return "allowed", external_body, 0
    status, body = traffic.http_response(conn.pod, conn.port, path)
    if status >= 400:
        return "allowed", busybox.wget_http_error(status), 1  # the server answered: policy let it through
    return "allowed", body, 0


def nc_text(conn: traffic.Connection, host: str) -> tuple[Outcome, str, int]:
    """busybox ``nc -v -w T host port``'s output (stderr, then what the server sent) and exit status."""
    if conn.outcome == "dns-failure":
        return "dns-failure", busybox.nc_bad_address(host), 1
    address = str(conn.address)
    if conn.outcome == "blocked":
        return "blocked", busybox.nc_timed_out(host, address, _asked_port(conn)), 1
    if conn.outcome == "refused":
        return "refused", "", 1  # a single -v does not print refusals
    sent = traffic.tcp_greeting(conn.pod, conn.port) if conn.pod is not None else ""
    return "allowed", busybox.nc_open(host, address, _asked_port(conn)) + ("\n" + sent if sent else ""), 0


def connect_text(conn: traffic.Connection, host: str, src: Pod, dns_blocked: bool) -> tuple[Outcome, str, int]:
    """agnhost ``connect``'s output (nothing on success) and exit status."""
    if conn.outcome == "dns-failure":
        return "dns-failure", busybox.agnhost_dns_failure(host, f"{DNS_SERVICE_IP}:53", dns_blocked), 1
    if conn.outcome == "allowed":
        return "allowed", "", 0
    local = busybox.hostport(src.ip or "", 0).rsplit(":", 1)[0] + f":{busybox.EPHEMERAL_PORT}"
    remote = busybox.hostport(str(conn.address), _asked_port(conn))
    outcome: Outcome = "refused" if conn.outcome == "refused" else "blocked"
    return outcome, busybox.agnhost_failure(conn.protocol, conn.outcome, local, remote), 1


def _asked_port(conn: traffic.Connection) -> int:
    """The port the client asked for (a Service's port; ``conn.port`` is the pod's after DNAT)."""
    return conn.asked_port or conn.port


def _same_content(before: Mapping[str, Any], after: Mapping[str, Any]) -> bool:
    """Whether applying ``after`` over ``before`` changes nothing kubectl apply would report."""
    def labels(o: Mapping[str, Any]) -> Any:
        return (o.get("metadata") or {}).get("labels") or {}

    return before.get("spec") == after.get("spec") and labels(before) == labels(after)
