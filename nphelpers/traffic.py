"""Where a connection goes and what answers it: the traffic model, pure.

The simulator (:mod:`nphelpers.backends.simulated`) and the test fake of the Kubernetes API
judge every probe here, on a :class:`~nphelpers.cluster.ClusterState`, so both tell the same
story. The steps are the ones a real packet takes:

1. **DNS** (:func:`resolve`): a name goes through the pod's resolv.conf search path
   (``ndots:5``) to CoreDNS in ``kube-system``; the client's egress and CoreDNS's ingress must
   admit UDP/53, else the name does not resolve. Names outside the cluster come from
   ``external_hosts``.
2. **Routing** (:func:`route`): a Service's ClusterIP goes to its first endpoint (pods sorted
   by name; a real kube-proxy picks one at random) on the ``targetPort``; a pod IP to that pod.
   A Service port that does not exist leads nowhere (a timeout); a Service without endpoints
   rejects (``Connection refused``).
3. **Policy** (:func:`nphelpers.engine.evaluate`) on the pod's port, as the pod sees it.
4. **Listening** (:func:`listens`): the image decides where a server listens, not
   ``containerPort``: stock nginx on 80/TCP; agnhost by its subcommand (``serve-hostname``,
   ``porter``, ``netexec``); any other image on the ports its containers declare.

Traffic from **outside the cluster** (:func:`from_outside`) enters at a node's NodePort (or a
LoadBalancer that forwards to one) and is judged with the source address the pod really sees:

* ``externalTrafficPolicy: Cluster`` (the default): kube-proxy SNATs the packet to the address
  of the node it entered (docs: "Using Source IP", ``type=NodePort``: "packets ... are source
  NAT'd by default"), so an ``ipBlock`` for the client's address does not match it.
* ``Local``: the client's own address is preserved, and only nodes that run an endpoint answer;
  on any other node the packet is dropped (a timeout).

The NetworkPolicy docs add an exception for ipBlock: "traffic to and from the node where a Pod is
running is always allowed, regardless of the IP address of the Pod or the node". The simulator
applies it: a source address that is the destination pod's own node is admitted whatever the
policies say (so a NodePort hit on the pod's own node with ``Cluster`` always gets through).
Whether a network plugin really exempts it is plugin-dependent; the docs also say it is not
defined whether SNAT happens before or after policy processing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from .cluster import ClusterState
from .engine import Verdict, evaluate
from .model import SYSTEM_NAMESPACE, Container, Pod, Service, ServicePort
from .policy import ip_value

DNS_SERVICE_IP = "10.96.0.10"
COREDNS_LABELS = {"k8s-app": "kube-dns"}
CLUSTER_DOMAIN = "cluster.local"
NGINX_PORT = 80  # where the stock nginx image listens (its default.conf: listen 80)
NGINX_PATHS = ("/", "/index.html")  # what nginx's default server answers with the welcome page
SERVE_HOSTNAME_PORT = 9376  # agnhost serve-hostname --port default
NETEXEC_HTTP_PORT, NETEXEC_UDP_PORT = 8080, 8081  # agnhost netexec --http-port / --udp-port defaults


@dataclass(frozen=True)
class Node:
    """A node of the cluster: its name and the address other machines reach it at (InternalIP)."""

    name: str
    ip: str


# What kind/cluster.yaml creates: a control plane (tainted: no lesson pods) and one worker,
# where every pod runs unless its spec names a node. Docker gives kind's nodes addresses on its
# "kind" network (172.18.0.0/16 by default); which node gets which address is docker's choice.
KIND_NODES = (Node("nphelpers-control-plane", "172.18.0.2"), Node("nphelpers-worker", "172.18.0.3"))
WORKER = KIND_NODES[1].name


@dataclass(frozen=True)
class Route:
    """Where a connection to ``address:port`` goes: the pod and its port, through which Service."""

    address: str
    pod: Pod | None
    port: int
    service: Service | None = None
    reachable: bool = True  # False: the address:port leads nowhere (a Service port that does not exist)


@dataclass(frozen=True)
class Connection:
    """What one connection attempt did.

    ``outcome``: ``allowed`` (a server accepted it), ``blocked`` (a policy dropped it, or it led
    nowhere: a timeout), ``refused`` (nothing listens, or a Service without endpoints),
    ``dns-failure`` (the name did not resolve). ``address`` is what the client connected to
    (``None`` if the name did not resolve), ``pod``/``port`` who answered on which port, and
    ``seen_source`` the source address the pod saw (a pod IP, a node after SNAT, a client).
    """

    outcome: str
    address: str | None
    pod: Pod | None = None
    port: int = 0
    protocol: str = "TCP"
    verdict: Verdict | None = None
    seen_source: str | None = None
    node: Node | None = None
    asked_port: int = 0  # the port the client connected to (a Service's or node's; ``port`` is the pod's)


# -- DNS ---------------------------------------------------------------------------------------
def search_list(host: str, namespace: str) -> list[str]:
    """The names resolv.conf's search path makes of ``host`` in a pod of ``namespace`` (ndots:5)."""
    host = host.rstrip(".")
    suffixes = [f"{namespace}.svc.{CLUSTER_DOMAIN}", f"svc.{CLUSTER_DOMAIN}", CLUSTER_DOMAIN]
    return [f"{host}.{s}" for s in suffixes] + [host]


def dns_verdict(state: ClusterState, src: Pod) -> Verdict | None:
    """The verdict on ``src``'s lookup to the first CoreDNS pod that admits it (else the first)."""
    verdicts = [
        evaluate(state, src, pod, 53, "UDP")
        for pod in state.pods.values()
        if pod.namespace == SYSTEM_NAMESPACE and all(pod.labels.get(k) == v for k, v in COREDNS_LABELS.items())
    ]
    for v in verdicts:
        if v.allowed:
            return v
    return verdicts[0] if verdicts else None


def resolve(state: ClusterState, src: Pod, host: str, external_hosts: Mapping[str, str]) -> str | None:
    """The address ``host`` resolves to from ``src``, or None (no such name, or DNS is blocked)."""
    if ip_value(host) is not None:
        return host
    dns = dns_verdict(state, src)
    if dns is None or not dns.allowed:
        return None
    for name in search_list(host, src.namespace):
        labels = name.split(".")
        if len(labels) >= 2 and ".".join(labels[2:]) == f"svc.{CLUSTER_DOMAIN}":
            svc = state.services.get(f"{labels[1]}/{labels[0]}")
            if svc is not None and svc.cluster_ip:
                return svc.cluster_ip
    return external_hosts.get(host.rstrip("."))


# -- routing -----------------------------------------------------------------------------------
def _to_endpoint(state: ClusterState, svc: Service, sport: ServicePort, address: str, port: int,
                 endpoints: Sequence[Pod] | None = None) -> Route:
    pods = list(state.endpoints(svc, sport) if endpoints is None else endpoints)
    if not pods:
        return Route(address, None, port, svc)  # no endpoints: kube-proxy rejects
    pod = pods[0]
    target = sport.target_port
    if isinstance(target, str):
        target = pod.resolve_port(target, sport.protocol) or 0  # an endpoint defines it
    return Route(address, pod, int(target), svc)


def route(state: ClusterState, address: str, port: int, protocol: str = "TCP") -> Route:
    """Follow ``address:port`` as kube-proxy would: a Service to its endpoint, a pod IP to the pod."""
    svc = state.service_by_ip(address)
    if svc is not None:
        sport = svc.port_for(port, protocol)
        if sport is None:
            return Route(address, None, port, svc, reachable=False)
        return _to_endpoint(state, svc, sport, address, port)
    return Route(address, state.pod_by_ip(address), port)


def node_of(pod: Pod, nodes: Sequence[Node]) -> Node | None:
    """The node ``pod`` runs on: its ``spec.nodeName``, else the worker (kind taints its control plane)."""
    wanted = pod.node or WORKER
    return next((n for n in nodes if n.name == wanted), nodes[-1] if nodes and pod.node is None else None)


# -- servers -----------------------------------------------------------------------------------
def is_image(image: str, name: str) -> bool:
    """Whether ``image`` is ``name`` from any registry, any tag or digest (``nginx``, ``nginx:1.27-alpine``)."""
    last = image.rsplit("/", 1)[-1]
    return last == name or last.startswith((f"{name}:", f"{name}@"))


def _flag(argv: Sequence[str], name: str) -> str | None:
    """The value of ``--name V`` or ``--name=V`` in a Go (cobra/pflag) command line; ``""`` for a bare ``--name``."""
    for i, arg in enumerate(argv):
        if arg == f"--{name}":
            nxt = argv[i + 1] if i + 1 < len(argv) else ""
            return "" if nxt.startswith("--") else nxt
        if arg.startswith(f"--{name}="):
            return arg.split("=", 1)[1]
    return None


def _bool_flag(argv: Sequence[str], name: str, default: bool) -> bool:
    for arg in argv:
        if arg == f"--{name}" or arg == f"--{name}=true":
            return True
        if arg == f"--{name}=false":
            return False
    return default


def _int_flag(argv: Sequence[str], name: str, default: int) -> int:
    value = _flag(argv, name)
    try:
        return int(value) if value else default
    except ValueError:
        return default


def agnhost_servers(container: Container) -> set[tuple[int, str]]:
    """(port, protocol) pairs an agnhost container serves, from its subcommand and flags.

    ``serve-hostname``: ``--port`` (9376), raw TCP with ``--tcp``, UDP with ``--udp``, else HTTP;
    ``porter``: ``SERVE_PORT_N`` env vars (HTTP on TCP N), ``SERVE_SCTP_PORT_N`` (SCTP N);
    ``netexec``: ``--http-port`` (8080/TCP), ``--udp-port`` (8081/UDP), ``--sctp-port`` (off).
    The image's default (no arguments) is ``pause``, which serves nothing.
    """
    argv = list(container.argv)
    if argv and argv[0] in ("/agnhost", "agnhost"):
        argv = argv[1:]
    sub = argv[0] if argv else "pause"
    if sub == "serve-hostname":
        port = _int_flag(argv, "port", SERVE_HOSTNAME_PORT)
        tcp, udp = _bool_flag(argv, "tcp", False), _bool_flag(argv, "udp", False)
        http = _bool_flag(argv, "http", True)
        if http and (tcp or udp):
            return set()  # agnhost refuses: "Can't server TCP/UDP mode and HTTP mode at the same time"
        return {(port, "TCP")} if http else {(port, p) for p, on in (("TCP", tcp), ("UDP", udp)) if on}
    if sub == "porter":
        served: set[tuple[int, str]] = set()
        for key, _ in container.env:
            for prefix, proto in (("SERVE_SCTP_PORT_", "SCTP"), ("SERVE_PORT_", "TCP"), ("SERVE_TLS_PORT_", "TCP")):
                if key.startswith(prefix) and key[len(prefix):].isdigit():
                    served.add((int(key[len(prefix):]), proto))
        return served
    if sub == "netexec":
        served = {(_int_flag(argv, "http-port", NETEXEC_HTTP_PORT), "TCP"),
                  (_int_flag(argv, "udp-port", NETEXEC_UDP_PORT), "UDP")}
        sctp = _int_flag(argv, "sctp-port", -1)
        return served | ({(sctp, "SCTP")} if sctp > 0 else set())
    return set()


def listens(pod: Pod, port: int, protocol: str = "TCP") -> bool:
    """Whether a server in ``pod`` accepts ``port``/``protocol``: its image decides, not ``containerPort``.

    Stock nginx listens on 80/TCP whatever the pod declares (``containerPort`` is informational
    in Kubernetes), so ``lab.run(image="nginx", port=8080)`` refuses on 8080, as on a real
    cluster; agnhost serves what its arguments say (:func:`agnhost_servers`); another image is
    taken to listen on its declared ports.
    """
    containers = pod.containers or (Container("", pod.image, (), (), pod.ports),)
    for c in containers:
        if is_image(c.image, "nginx"):
            if port == NGINX_PORT and protocol == "TCP":
                return True
        elif is_image(c.image, "agnhost"):
            if (port, protocol) in agnhost_servers(c):
                return True
        elif any(p.port == port and p.protocol == protocol for p in c.ports):
            return True
    return False


def _server(pod: Pod, port: int, protocol: str) -> Container | None:
    for c in pod.containers:
        if is_image(c.image, "agnhost") and (port, protocol) in agnhost_servers(c):
            return c
        if is_image(c.image, "nginx") and port == NGINX_PORT and protocol == "TCP":
            return c
    return None


def tcp_greeting(pod: Pod, port: int) -> str:
    """What a TCP server sends as soon as a client connects, before it is sent anything.

    agnhost ``serve-hostname --tcp`` writes the pod's host name (its name) and closes; nginx and
    HTTP servers wait for a request (and close on the client's end of input); other images are
    taken to send nothing.
    """
    c = _server(pod, port, "TCP")
    if c is not None and is_image(c.image, "agnhost"):
        argv = [a for a in c.argv if a not in ("/agnhost", "agnhost")]
        if argv and argv[0] == "serve-hostname" and _bool_flag(argv, "tcp", False):
            return pod.name
    return ""


def http_response(pod: Pod, port: int, path: str) -> tuple[int, str]:
    """(status, body) of ``GET path`` on ``pod:port``: nginx's welcome page at ``/``, 404 elsewhere;
    agnhost ``serve-hostname`` answers its host name at any path, ``netexec`` at ``/hostname``
    (its ``/`` is the request's timestamp, which no stored output can hold); other servers an empty 200."""
    c = _server(pod, port, "TCP")
    if c is not None and is_image(c.image, "nginx"):
        if path in NGINX_PATHS:
            from .busybox import nginx_index

            return 200, nginx_index()
        return 404, ""
    if c is not None and is_image(c.image, "agnhost"):
        argv = [a for a in c.argv if a not in ("/agnhost", "agnhost")]
        if argv and (argv[0] == "serve-hostname" or (argv[0] == "netexec" and path == "/hostname")):
            return 200, pod.name  # a pod's host name is its name
    return 200, ""


def answers_udp(pod: Pod, port: int) -> bool:
    """Whether a UDP server on ``pod:port`` replies to a datagram (agnhost's UDP servers all do)."""
    return listens(pod, port, "UDP")


# -- one connection ----------------------------------------------------------------------------
def connect(
    state: ClusterState,
    src: Pod,
    host: str,
    port: int,
    protocol: str = "TCP",
    external_hosts: Mapping[str, str] | None = None,
) -> Connection:
    """A connection from pod ``src`` to ``host:port``: resolve, route, judge, and who listens."""
    return replace(_connect(state, src, host, port, protocol, external_hosts), asked_port=port)


def _connect(state: ClusterState, src: Pod, host: str, port: int, protocol: str,
             external_hosts: Mapping[str, str] | None) -> Connection:
    address = resolve(state, src, host, external_hosts or {})
    if address is None:
        return Connection("dns-failure", None, protocol=protocol)
    r = route(state, address, port, protocol)
    if not r.reachable:
        return Connection("blocked", address, port=port, protocol=protocol)
    if r.pod is None and r.service is not None:
        return Connection("refused", address, port=port, protocol=protocol)  # a Service without endpoints
    if r.pod is None:  # outside the cluster (or an address nobody has)
        verdict = evaluate(state, src, address, port, protocol)
        outcome = "allowed" if verdict.allowed else "blocked"
        return Connection(outcome, address, port=port, protocol=protocol, verdict=verdict, seen_source=src.ip)
    verdict = evaluate(state, src, r.pod, r.port, protocol)
    if not verdict.allowed:
        return Connection("blocked", address, r.pod, r.port, protocol, verdict, src.ip)
    outcome = "allowed" if listens(r.pod, r.port, protocol) else "refused"
    return Connection(outcome, address, r.pod, r.port, protocol, verdict, src.ip)


def from_outside(
    state: ClusterState,
    nodes: Sequence[Node],
    client: str,
    address: str,
    port: int,
    protocol: str = "TCP",
) -> Connection:
    """A connection from ``client`` (an address outside the cluster) to ``address:port``.

    ``address`` is a node's address (``port`` a NodePort) or a LoadBalancer's address (``port`` a
    service port). The source the pod sees follows ``externalTrafficPolicy`` (module docs).
    """
    return replace(_from_outside(state, nodes, client, address, port, protocol), asked_port=port)


def _from_outside(state: ClusterState, nodes: Sequence[Node], client: str, address: str, port: int,
                  protocol: str) -> Connection:
    node = next((n for n in nodes if n.ip == address), None)
    svc: Service | None = None
    sport: ServicePort | None = None
    if node is not None:
        for s in state.services.values():
            sport = s.node_port_for(port, protocol)
            if sport is not None:
                svc = s
                break
    else:
        svc = next((s for s in state.services.values() if s.type == "LoadBalancer" and s.load_balancer_ip == address),
                   None)
        sport = svc.port_for(port, protocol) if svc is not None else None
    if svc is None or sport is None:
        # Nothing there: a node answers a closed port with a reset, an unknown address never answers.
        return Connection("refused" if node is not None else "blocked", address, port=port, protocol=protocol)
    endpoints = state.endpoints(svc, sport)
    local = svc.traffic_policy == "Local"
    if node is None:  # a LoadBalancer sends to a node: with Local, one that has an endpoint
        hosts = [node_of(p, nodes) for p in endpoints]
        node = next((n for n in hosts if n is not None), None) if local else (nodes[0] if nodes else None)
        if node is None:
            return Connection("blocked", address, port=port, protocol=protocol)
    if local:
        endpoints = [p for p in endpoints if node_of(p, nodes) == node]
        if not endpoints:  # kube-proxy drops external traffic to a Local service without a local endpoint
            return Connection("blocked", address, port=port, protocol=protocol, node=node)
    r = _to_endpoint(state, svc, sport, address, port, endpoints)
    if r.pod is None:
        return Connection("refused", address, port=port, protocol=protocol, node=node)
    seen = client if local else node.ip
    verdict = evaluate(state, seen, r.pod, r.port, protocol)
    own_node = node_of(r.pod, nodes)
    allowed = verdict.allowed or (own_node is not None and own_node.ip == seen)
    if not allowed:
        return Connection("blocked", address, r.pod, r.port, protocol, verdict, seen, node)
    outcome = "allowed" if listens(r.pod, r.port, protocol) else "refused"
    return Connection(outcome, address, r.pod, r.port, protocol, verdict, seen, node)
