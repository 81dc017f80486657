"""Probes beyond wget: busybox nc, agnhost connect (UDP/SCTP), wget paths, clients outside the cluster.

The simulator's outputs are checked against the texts the tools' sources print (see
nphelpers/busybox.py), the live backend's scripts and parsers against raw tool output, and
traffic from outside against externalTrafficPolicy's documented behaviour.
"""

from __future__ import annotations

import io

import pytest

from nphelpers import traffic
from nphelpers.backends import live_probes
from nphelpers.backends.base import OutsideProbe
from nphelpers.backends.simulated import SimulatedCluster
from nphelpers.errors import ManifestError, UsageError
from nphelpers.lab import Lab
from nphelpers.validation import validate_object

SERVERS = """\
apiVersion: v1
kind: Pod
metadata: {name: db, labels: {app: db}}
spec:
  containers:
  - name: db
    image: agnhost
    args: [serve-hostname, --tcp, --http=false, --port, "6379"]
    ports: [{containerPort: 6379}]
---
apiVersion: v1
kind: Service
metadata: {name: db}
spec:
  selector: {app: db}
  ports: [{port: 6379}]
---
apiVersion: v1
kind: Pod
metadata: {name: dns, labels: {app: dns}}
spec:
  containers:
  - name: dns
    image: agnhost
    args: [serve-hostname, --udp, --http=false, --port, "5353"]
    ports: [{containerPort: 5353, protocol: UDP}]
---
apiVersion: v1
kind: Service
metadata: {name: dns}
spec:
  selector: {app: dns}
  ports: [{port: 5353, protocol: UDP}]
"""
DENY_DB = """\
kind: NetworkPolicy
apiVersion: networking.k8s.io/v1
metadata: {name: deny}
spec:
  podSelector: {}
  ingress: []
"""


def lab_with_servers() -> tuple[Lab, io.StringIO]:
    out = io.StringIO()
    lab = Lab(SimulatedCluster(), out=out)
    lab.apply(SERVERS)
    lab.run("search", image="alpine", labels="app=search")
    lab.run("client", image="agnhost", labels="app=client")
    return lab, out


def printed(lab: Lab, out: io.StringIO, verb: str, *args: object, **kwargs: object) -> list[str]:
    out.truncate(0), out.seek(0)
    getattr(lab, verb)(*args, **kwargs)
    return out.getvalue().splitlines()


def test_nc_prints_busybox_lines_for_each_outcome() -> None:
    lab, out = lab_with_servers()
    ip = lab.state().services["default/db"].cluster_ip
    assert printed(lab, out, "nc", "db", 6379, from_pod="search") == [
        "$ kubectl exec search -- nc -v -w 2 db 6379", f"db ({ip}:6379) open", "db"]  # serve-hostname --tcp: its name
    assert printed(lab, out, "nc", "nope", 6379, from_pod="search") == [
        "$ kubectl exec search -- nc -v -w 2 nope 6379", "nc: bad address 'nope'",
        "command terminated with exit code 1"]
    pod_ip = lab.state().pods["default/db"].ip
    # allowed but nothing listens on 6380: a single -v prints no refusal, only the exit status shows
    assert printed(lab, out, "nc", pod_ip, 6380, from_pod="search", timeout=3) == [
        f"$ kubectl exec search -- nc -v -w 3 {pod_ip} 6380", "command terminated with exit code 1"]
    lab.apply(DENY_DB)
    assert printed(lab, out, "nc", "db", 6379, from_pod="search")[1:] == [
        f"nc: db ({ip}:6379): Connection timed out", "command terminated with exit code 1"]
    result = lab.probe("db", from_pod="search", port=6379, tool="nc")
    assert (result.outcome, result.status) == ("blocked", 1)


def test_nc_refuses_udp_and_needs_a_port() -> None:
    lab, _ = lab_with_servers()
    with pytest.raises(UsageError, match="lab.connect"):
        lab.probe("dns", from_pod="search", port=5353, tool="nc", protocol="UDP")
    with pytest.raises(UsageError, match="needs a port"):
        lab.probe("db", from_pod="search", tool="nc")


def test_agnhost_connect_udp_allowed_is_silent_and_blocked_times_out() -> None:
    lab, out = lab_with_servers()
    assert printed(lab, out, "connect", "dns", 5353, from_pod="client") == [
        "$ kubectl exec client -- /agnhost connect dns:5353 --timeout=2s --protocol=udp"]
    src, dst = lab.state().pods["default/client"].ip, lab.state().services["default/dns"].cluster_ip
    lab.apply(DENY_DB)
    assert printed(lab, out, "connect", "dns", 5353, from_pod="client")[1:] == [
        f"TIMEOUT: read udp {src}:<ephemeral>->{dst}:5353: i/o timeout", "command terminated with exit code 1"]
    # TCP through agnhost: the bare word
    assert printed(lab, out, "connect", "db", 6379, from_pod="client", protocol="tcp")[1:] == [
        "TIMEOUT", "command terminated with exit code 1"]


def test_agnhost_connect_udp_refused_when_nothing_listens() -> None:
    lab, _ = lab_with_servers()
    pod_ip = lab.state().pods["default/dns"].ip
    result = lab.probe(pod_ip, from_pod="client", port=5354, tool="connect", protocol="UDP")
    assert result.outcome == "refused"
    assert result.output.startswith("REFUSED: read udp ") and result.output.endswith(": read: connection refused")


def test_connect_needs_an_agnhost_client() -> None:
    lab, out = lab_with_servers()
    with pytest.raises(UsageError, match="image='agnhost'"):
        lab.connect("dns", 5353, from_pod="search")
    assert out.getvalue().count("/agnhost") == 0  # nothing printed before the error


def test_wget_to_a_path_nginx_does_not_serve_is_an_http_error() -> None:
    out = io.StringIO()
    lab = Lab(SimulatedCluster(), out=out)
    lab.run("web", image="nginx", labels="app=web", port=80, expose=True)
    lab.run("c", image="alpine")
    assert printed(lab, out, "wget", "web", from_pod="c", path="/missing") == [
        "$ kubectl exec c -- wget -qO- --timeout=2 http://web/missing",
        "wget: server returned error: HTTP/1.1 404 Not Found", "command terminated with exit code 1"]
    assert lab.probe("web", from_pod="c", path="/index.html").output.startswith("<!DOCTYPE html>")
    with pytest.raises(UsageError, match="URL path"):
        lab.wget("web", from_pod="c", path="missing")



def test_netexec_answers_its_hostname_at_hostname_only() -> None:
    """agnhost netexec: /hostname is the pod's name (lesson 13); / is a timestamp, modelled as empty."""
    lab = Lab(SimulatedCluster(), out=False)
    lab.run("api", image="agnhost", labels="app=api", port=8080, expose=True, command=["netexec", "--http-port=8080"])
    lab.run("c", image="alpine")
    assert lab.probe("api", from_pod="c", port=8080, path="/hostname").output == "api"
    assert lab.probe("api", from_pod="c", port=8080).output == ""

def test_agnhost_servers_follow_their_arguments() -> None:
    from nphelpers.model import Container

    def served(argv: list[str], env: tuple[tuple[str, str], ...] = ()) -> set[tuple[int, str]]:
        return traffic.agnhost_servers(Container("c", "registry.k8s.io/e2e-test-images/agnhost:2.52", tuple(argv), env))

    assert served(["serve-hostname"]) == {(9376, "TCP")}
    assert served(["/agnhost", "serve-hostname", "--udp", "--http=false", "--port", "53"]) == {(53, "UDP")}
    assert served(["serve-hostname", "--tcp", "--port", "80"]) == set()  # agnhost refuses --tcp with HTTP
    assert served(["porter"], (("SERVE_SCTP_PORT_80", "foo"), ("SERVE_PORT_81", "x"))) == {(80, "SCTP"), (81, "TCP")}
    assert served(["netexec", "--http-port=8080", "--udp-port=8081"]) == {(8080, "TCP"), (8081, "UDP")}
    assert served([]) == set()  # the image's default command: pause


# -- traffic from outside ----------------------------------------------------------------------
def outside_lab(policy: str) -> Lab:
    lab = Lab(SimulatedCluster(), out=False)
    lab.run("web", image="nginx", labels="app=web", port=80)
    lab.apply(f"""\
apiVersion: v1
kind: Service
metadata: {{name: web}}
spec:
  type: NodePort
  externalTrafficPolicy: {policy}
  selector: {{app: web}}
  ports: [{{port: 80}}]
---
kind: NetworkPolicy
apiVersion: networking.k8s.io/v1
metadata: {{name: from-partners}}
spec:
  podSelector: {{matchLabels: {{app: web}}}}
  ingress:
  - from: [{{ipBlock: {{cidr: 203.0.113.0/24}}}}]
""")
    return lab


def test_cluster_policy_snats_to_the_node_so_an_ipblock_for_the_client_does_not_match() -> None:
    lab = outside_lab("Cluster")
    assert lab.state().services["default/web"].ports[0].node_port == 30000
    # entering at the control plane: the pod sees 172.18.0.2, not in 203.0.113.0/24
    assert lab.outside("web", client="203.0.113.7").outcome == "blocked"
    # entering at the pod's own node: the docs' exception, traffic from the pod's node is allowed
    assert lab.outside("web", client="198.51.100.9", node="nphelpers-worker").outcome == "allowed"


def test_local_policy_keeps_the_client_address_and_answers_only_where_an_endpoint_runs() -> None:
    lab = outside_lab("Local")
    worker = "nphelpers-worker"
    assert lab.outside("web", client="203.0.113.7", node=worker).outcome == "allowed"
    assert lab.outside("web", client="198.51.100.9", node=worker).outcome == "blocked"
    assert lab.outside("web", client="203.0.113.7").outcome == "blocked"  # control plane: no local endpoint
    out = io.StringIO()
    lab._out = out
    lab.from_outside("web", client="203.0.113.7", node=worker)
    assert out.getvalue().splitlines()[0] == (
        "$ wget -qO- --timeout=2 http://172.18.0.3:30000/   # from 203.0.113.7, outside the cluster")


def test_outside_needs_an_external_service() -> None:
    lab = Lab(SimulatedCluster(), out=False)
    lab.run("web", image="nginx", port=80, expose=True)
    with pytest.raises(UsageError, match="type ClusterIP"):
        lab.outside("web")


def test_service_type_fields_are_validated() -> None:
    svc = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"},
           "spec": {"ports": [{"port": 80, "nodePort": 30080}]}}
    with pytest.raises(ManifestError, match="nodePort.*forbidden"):
        validate_object(svc)
    svc["spec"]["type"] = "NodePort"
    validate_object(svc)
    svc["spec"]["ports"][0]["nodePort"] = 80
    with pytest.raises(ManifestError, match="30000-32767"):
        validate_object(svc)
    svc["spec"]["ports"][0]["nodePort"] = 30080
    svc["spec"]["externalTrafficPolicy"] = "local"
    with pytest.raises(ManifestError, match="Cluster"):
        validate_object(svc)


# -- the live side: scripts and parsers ------------------------------------------------------------
def test_live_scripts_print_their_exit_status() -> None:
    assert live_probes.nc_script("db", 6379, 2) == (
        "nc -v -w 2 db 6379 </dev/null 2>&1; rc=$?; printf '\\n__rc=%s\\n' \"$rc\"")
    script = live_probes.connect_script("fd00::1", 53, "UDP", 1)
    assert script.startswith("/agnhost connect '[fd00::1]:53' --timeout=1s --protocol=udp 2>&1;")


@pytest.mark.parametrize(("raw", "expected"), [
    ("db (10.96.0.5:6379) open\ndb-0\n__rc=0\n", ("allowed", "db (10.96.0.5:6379) open\ndb-0", 0)),
    ("nc: db (10.96.0.5:6379): Connection timed out\n__rc=1\n",
     ("blocked", "nc: db (10.96.0.5:6379): Connection timed out", 1)),
    ("\n__rc=1\n", ("refused", "", 1)),
    ("nc: bad address 'db'\n__rc=1\n", ("dns-failure", "nc: bad address 'db'", 1)),
    ("", ("blocked", "", 1)),
])
def test_parse_nc_output(raw: str, expected: tuple[str, str, int]) -> None:
    assert live_probes.parse_nc_output(raw) == expected


@pytest.mark.parametrize(("raw", "expected"), [
    ("\n__rc=0\n", ("allowed", "", 0)),
    ("TIMEOUT: read udp 10.244.1.4:48213->10.96.0.9:53: i/o timeout\n\n__rc=1\n",
     ("blocked", "TIMEOUT: read udp 10.244.1.4:<ephemeral>->10.96.0.9:53: i/o timeout", 1)),
    ("REFUSED: read udp 10.244.1.4:3321->10.244.1.9:54: read: connection refused\n\n__rc=1\n",
     ("refused", "REFUSED: read udp 10.244.1.4:<ephemeral>->10.244.1.9:54: read: connection refused", 1)),
    ("TIMEOUT\n\n__rc=1\n", ("blocked", "TIMEOUT", 1)),
    ("DNS: lookup db on 10.96.0.10:53: no such host\n\n__rc=1\n",
     ("dns-failure", "DNS: lookup db on 10.96.0.10:53: no such host", 1)),
])
def test_parse_connect_output(raw: str, expected: tuple[str, str, int]) -> None:
    assert live_probes.parse_connect_output(raw) == expected


def test_parsers_refuse_what_they_do_not_know() -> None:
    from nphelpers.errors import BackendError

    with pytest.raises(BackendError, match="unexpected agnhost"):
        live_probes.parse_connect_output("sh: /agnhost: not found\n__rc=127\n")
    with pytest.raises(BackendError, match="unexpected nc"):
        live_probes.parse_nc_output("nc: weird\n__rc=2\n")


def test_lesson_host_puts_the_typed_name_back() -> None:
    assert live_probes.lesson_host("api.nphelpers-lab (10.96.0.5:80) open\nx", "api.nphelpers-lab", "api.default") == (
        "api.default (10.96.0.5:80) open\nx")


def test_live_backend_cannot_fake_an_outside_address() -> None:
    from tests.test_same_output import live

    backend = live()
    with pytest.raises(UsageError, match="cannot be faked"):
        backend.outside_probe(OutsideProbe("172.18.0.2", 30000, client="203.0.113.7"))
