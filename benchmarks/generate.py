#!/usr/bin/env python3
"""Generate a realistic Kubernetes cluster (namespaces, pods, NetworkPolicies) as YAML.

The cluster is a function of its size and ``--seed`` alone, so two runs with the same
arguments write the same bytes. It looks like what ``kubectl get ns,pods,netpol -A -o yaml``
shows in a mid-sized multi-team cluster:

* ``K`` application namespaces named after a team and an environment (labelled ``team``,
  ``env`` and ``kubernetes.io/metadata.name``), plus ``kube-system`` (two CoreDNS pods
  labelled ``k8s-app: kube-dns``) and ``monitoring`` (two Prometheus pods);
* in each application namespace a handful of apps (frontends, APIs, workers, databases,
  caches, queues) with several replicas each, written as ``Pod`` objects with the labels
  ``app``/``tier``/``role``/``version``/``team``, named container ports (``http`` 80 on
  frontends and 8080 on APIs, ``grpc`` 9000, ``metrics`` 9090, ``postgres`` 5432, ``statsd``
  8125/UDP...) and a ``status.podIP`` from ``10.244.0.0/16`` given in creation order; a
  few replicas are canaries (``version: v2``, ``canary: "true"``);
* ``P`` NetworkPolicies: most application namespaces start with a default-deny (ingress
  only, or ingress and egress together with a DNS allowance, mostly to the kube-system
  pods labelled ``k8s-app: kube-dns`` on UDP/TCP 53, and an intra-namespace egress
  allowance), then allow rules drawn from a mix of shapes:
  ``matchLabels`` and ``matchExpressions`` (In/NotIn/Exists/DoesNotExist) selectors,
  ``namespaceSelector`` peers, combined namespace+pod peers, ``ipBlock`` peers with
  ``except``, numeric and named ports, port ranges (``endPort``), UDP rules and egress
  rules. A few namespaces (about one in eight, plus the two system ones) have no policy.

``ipBlock`` CIDRs never cover the pod network (10.244.0.0/16): whether an ``ipBlock``
matches pod addresses is left to the network plugin by Kubernetes, and tools differ on it.

Usage::

    python benchmarks/generate.py --pods 1000 --policies 100 --seed 1 -o cluster.yaml
    python benchmarks/generate.py --pods 1000 --policies 100 -o cluster-dir/   # one file per kind
    python benchmarks/generate.py --pods 1000 --policies 100 --owner-refs -o c.yaml  # pods name a ReplicaSet
"""

from __future__ import annotations

import argparse
import ipaddress
import random
import sys
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

POD_CIDR = ipaddress.ip_network("10.244.0.0/16")
NAME_LABEL = "kubernetes.io/metadata.name"
TEAMS = (
    "payments", "search", "checkout", "identity", "catalog", "shipping", "analytics",
    "platform", "growth", "billing", "media", "support", "ledger", "reviews", "ads", "fraud",
)
ENVS = ("prod", "prod", "staging", "dev")  # more prod namespaces than others
# Kubernetes' alphabet for generated name suffixes (no vowels, no look-alikes).
NAME_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"

Spec = dict[str, Any]
Manifest = dict[str, Any]


@dataclass(frozen=True)
class AppKind:
    """One kind of workload: its tier, role and the container ports its pods declare."""

    names: tuple[str, ...]
    tier: str
    role: str
    ports: tuple[tuple[str, int, str], ...]  # (name, containerPort, protocol)


FRONTEND = AppKind(("web", "frontend", "gateway", "storefront", "portal"), "frontend", "web",
                   (("http", 80, "TCP"), ("metrics", 9090, "TCP")))
BACKEND = AppKind(("api", "orders", "cart", "users", "auth", "search", "pricing", "inventory", "notifier"),
                  "backend", "api",
                  (("http", 8080, "TCP"), ("grpc", 9000, "TCP"), ("metrics", 9090, "TCP"),
                   ("statsd", 8125, "UDP")))
WORKER = AppKind(("worker", "indexer", "scheduler", "mailer", "exporter"), "worker", "batch",
                 (("metrics", 9090, "TCP"),))
POSTGRES = AppKind(("postgres",), "db", "datastore", (("postgres", 5432, "TCP"), ("metrics", 9187, "TCP")))
REDIS = AppKind(("redis",), "cache", "datastore", (("redis", 6379, "TCP"), ("metrics", 9121, "TCP")))
KAFKA = AppKind(("kafka",), "queue", "datastore", (("kafka", 9092, "TCP"), ("metrics", 9090, "TCP")))
DATASTORES = (POSTGRES, REDIS, KAFKA)


@dataclass
class App:
    name: str
    kind: AppKind
    replicas: int


@dataclass
class NamespaceInfo:
    name: str
    team: str
    env: str
    apps: list[App] = field(default_factory=list)

    def apps_of(self, *tiers: str) -> list[App]:
        return [a for a in self.apps if a.kind.tier in tiers]


# -- pods and namespaces -----------------------------------------------------------------


def _suffix(rng: random.Random, n: int) -> str:
    return "".join(rng.choice(NAME_ALPHABET) for _ in range(n))


def _split(rng: random.Random, total: int, parts: int, minimum: int = 1) -> list[int]:
    """``total`` split into ``parts`` random positive shares (each at least ``minimum``)."""
    parts = max(1, min(parts, total // max(minimum, 1) or 1))
    weights = [rng.uniform(0.5, 1.5) for _ in range(parts)]
    spare = total - minimum * parts
    shares = [minimum + int(spare * w / sum(weights)) for w in weights]
    for i in range(total - sum(shares)):
        shares[i % parts] += 1
    return shares


def _plan_apps(rng: random.Random, ns: NamespaceInfo, pods: int) -> None:
    """A handful of apps with several replicas each, ``pods`` pods in all."""
    n_apps = max(1, min(10, round(pods / 12)))
    kinds: list[AppKind] = [FRONTEND]
    if n_apps > 1:
        kinds.append(BACKEND)
    if n_apps > 2:
        kinds.append(rng.choice(DATASTORES))
    while len(kinds) < n_apps:
        kinds.append(rng.choices((FRONTEND, BACKEND, WORKER, *DATASTORES), (1, 4, 2, 1, 1, 1))[0])
    used: set[str] = set()
    replicas = _split(rng, pods, len(kinds))
    for kind, count in zip(kinds, replicas, strict=True):
        free = [n for n in kind.names if n not in used]
        name = rng.choice(free) if free else f"{kind.names[0]}-{len(used)}"
        used.add(name)
        ns.apps.append(App(name, kind, count))


def _pod(
    rng: random.Random, ns: str, app: App, team: str, ip: str, template_hash: str, canary: bool,
    owner_refs: bool, taken: set[tuple[str, str]], extra_labels: dict[str, str] | None = None,
    ports: Sequence[tuple[str, int, str]] | None = None,
) -> Manifest:
    """One replica of ``app``; replicas of one ReplicaSet share ``template_hash``."""
    version = "v2" if canary else "v1"
    labels: dict[str, str] = {
        "app": app.name,
        "tier": app.kind.tier,
        "role": app.kind.role,
        "version": version,
        "team": team,
        "pod-template-hash": template_hash,
    }
    if canary:
        labels["canary"] = "true"
    labels.update(extra_labels or {})
    container_ports = [
        {"name": name, "containerPort": port, "protocol": proto} for name, port, proto in (ports or app.kind.ports)
    ]
    rs_name = f"{app.name}-canary-{template_hash}" if canary else f"{app.name}-{template_hash}"
    name = f"{rs_name}-{_suffix(rng, 5)}"
    while (ns, name) in taken:
        name = f"{rs_name}-{_suffix(rng, 5)}"
    taken.add((ns, name))
    meta: dict[str, Any] = {"name": name, "namespace": ns, "labels": labels}
    if owner_refs:
        meta["ownerReferences"] = [{
            "apiVersion": "apps/v1", "kind": "ReplicaSet", "name": rs_name,
            # A uid derived from the name, so that --owner-refs leaves every other draw unchanged.
            "uid": str(uuid.uuid5(uuid.NAMESPACE_URL, f"replicaset/{ns}/{rs_name}")), "controller": True,
            "blockOwnerDeletion": True,
        }]
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": meta,
        "spec": {
            "containers": [{
                "name": app.name,
                "image": f"registry.example.com/{team}/{app.name}:{version}",
                "ports": container_ports,
            }],
        },
        "status": {"phase": "Running", "podIP": ip, "podIPs": [{"ip": ip}]},
    }


def _namespace(name: str, labels: dict[str, str]) -> Manifest:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": {NAME_LABEL: name, **labels}}}


# -- policies ----------------------------------------------------------------------------


def _policy(ns: str, name: str, spec: Spec) -> Manifest:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": name, "namespace": ns},
        "spec": spec,
    }


DNS_EGRESS: Spec = {
    "to": [{
        "namespaceSelector": {"matchLabels": {NAME_LABEL: "kube-system"}},
        "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
    }],
    "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}],
}
PRIVATE_EXCEPT = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"]


@dataclass
class Ctx:
    """What a policy template may draw on: the namespace, all namespaces, the random source."""

    rng: random.Random
    ns: NamespaceInfo
    all_ns: list[NamespaceInfo]

    def app(self, *tiers: str) -> App:
        apps = self.ns.apps_of(*tiers) or self.ns.apps
        return self.rng.choice(apps)

    def other_team(self) -> str:
        return self.rng.choice([n.team for n in self.all_ns])


def t_frontend_public(c: Ctx) -> tuple[str, Spec]:
    app = c.app("frontend")
    ports = c.rng.choice([[{"protocol": "TCP", "port": 80}], [{"protocol": "TCP", "port": "http"}],
                          [{"protocol": "TCP", "port": 80}, {"protocol": "TCP", "port": 443}]])
    return f"allow-{app.name}-from-all-namespaces", {
        "podSelector": {"matchLabels": {"app": app.name}},
        "policyTypes": ["Ingress"],
        "ingress": [{"from": [{"namespaceSelector": {}}], "ports": ports}],
    }


def t_backend_from_frontend(c: Ctx) -> tuple[str, Spec]:
    app = c.app("backend")
    return f"allow-{app.name}-from-frontends", {
        "podSelector": {"matchLabels": {"app": app.name}},
        "ingress": [{
            "from": [{"podSelector": {"matchLabels": {"tier": "frontend"}}}],
            "ports": [{"protocol": "TCP", "port": "http"}, {"protocol": "TCP", "port": "grpc"}],
        }],
    }


def t_match_expressions(c: Ctx) -> tuple[str, Spec]:
    lo = c.rng.choice([8000, 8080, 80])
    return "allow-non-batch-to-services", {
        "podSelector": {"matchExpressions": [{"key": "tier", "operator": "In", "values": ["backend", "frontend"]}]},
        "ingress": [{
            "from": [{"podSelector": {"matchExpressions": [
                {"key": "role", "operator": "NotIn", "values": ["batch"]},
                {"key": "version", "operator": "Exists"},
            ]}}],
            "ports": [{"protocol": "TCP", "port": lo, "endPort": lo + c.rng.choice([10, 100])}],
        }],
    }


def t_stable_only(c: Ctx) -> tuple[str, Spec]:
    app = c.app("backend", "frontend")
    return f"allow-{app.name}-from-stable", {
        "podSelector": {
            "matchLabels": {"app": app.name},
            "matchExpressions": [{"key": "canary", "operator": "DoesNotExist"}],
        },
        "ingress": [{
            "from": [{"podSelector": {"matchExpressions": [{"key": "canary", "operator": "DoesNotExist"}]}}],
            "ports": [{"protocol": "TCP", "port": "http"}],
        }],
    }


def t_from_team_namespaces(c: Ctx) -> tuple[str, Spec]:
    app = c.app("backend", "frontend")
    team = c.other_team()
    roll = c.rng.random()
    if roll < 0.4:
        ns_sel: Spec = {"matchLabels": {"team": team}}
    elif roll < 0.8:
        ns_sel = {"matchLabels": {"team": team},
                  "matchExpressions": [{"key": "env", "operator": "In", "values": ["prod", "staging"]}]}
    else:
        ns_sel = {"matchExpressions": [{"key": "team", "operator": "In", "values": [team, c.ns.team]},
                                       {"key": "env", "operator": "NotIn", "values": ["dev"]}]}
    return f"allow-{app.name}-from-team-{team}", {
        "podSelector": {"matchLabels": {"app": app.name}},
        "ingress": [{"from": [{"namespaceSelector": ns_sel}],
                     "ports": [{"protocol": "TCP", "port": 80}, {"protocol": "TCP", "port": 8080}]}],
    }


def t_from_frontends_of_team(c: Ctx) -> tuple[str, Spec]:
    app = c.app("backend")
    team = c.other_team()
    return f"allow-{app.name}-from-{team}-frontends", {
        "podSelector": {"matchLabels": {"app": app.name}},
        "ingress": [{
            "from": [{
                "namespaceSelector": {"matchLabels": {"team": team, "env": c.ns.env}},
                "podSelector": {"matchLabels": {"tier": "frontend"}},
            }],
            "ports": [{"protocol": "TCP", "port": "http"}],
        }],
    }


def t_monitoring(c: Ctx) -> tuple[str, Spec]:
    return "allow-prometheus-scrape", {
        "podSelector": {"matchExpressions": [{"key": "app", "operator": "Exists"}]},
        "ingress": [{
            "from": [{
                "namespaceSelector": {"matchLabels": {NAME_LABEL: "monitoring"}},
                "podSelector": {"matchLabels": {"app": "prometheus"}},
            }],
            "ports": [{"protocol": "TCP", "port": "metrics"}],
        }],
    }


def t_ipblock(c: Ctx) -> tuple[str, Spec]:
    app = c.app("frontend")
    return f"allow-{app.name}-from-office-and-lb", {
        "podSelector": {"matchLabels": {"tier": "frontend"}},
        "ingress": [{
            "from": [
                {"ipBlock": {"cidr": "10.0.0.0/8", "except": ["10.244.0.0/16", "10.96.0.0/12"]}},
                {"ipBlock": {"cidr": "192.168.0.0/16", "except": ["192.168.100.0/24"]}},
            ],
            "ports": [{"protocol": "TCP", "port": 80}, {"protocol": "TCP", "port": 443}],
        }],
    }


def t_port_range(c: Ctx) -> tuple[str, Spec]:
    app = c.app("backend", "frontend", "worker")
    start, end = c.rng.choice([(30000, 32767), (80, 89), (8000, 8999)])
    return f"allow-{app.name}-port-range-{start}", {
        "podSelector": {"matchLabels": {"app": app.name}},
        "ingress": [{"from": [{"podSelector": {"matchLabels": {"team": c.ns.team}}}],
                     "ports": [{"protocol": "TCP", "port": start, "endPort": end}]}],
    }


def t_udp(c: Ctx) -> tuple[str, Spec]:
    app = c.app("backend")
    return f"allow-{app.name}-statsd-udp", {
        "podSelector": {"matchLabels": {"app": app.name}},
        "ingress": [{"from": [{"podSelector": {}}],
                     "ports": [{"protocol": "UDP", "port": "statsd"}, {"protocol": "UDP", "port": 514}]}],
    }


def t_datastore(c: Ctx) -> tuple[str, Spec]:
    app = c.app("db", "cache", "queue")
    port: int | str = app.kind.ports[0][0] if c.rng.random() < 0.5 else app.kind.ports[0][1]
    return f"allow-{app.name}-from-services", {
        "podSelector": {"matchLabels": {"app": app.name}},
        "ingress": [{
            "from": [{"podSelector": {"matchExpressions": [
                {"key": "tier", "operator": "In", "values": ["backend", "worker"]}]}}],
            "ports": [{"protocol": "TCP", "port": port}],
        }],
    }


def t_egress_backend(c: Ctx) -> tuple[str, Spec]:
    app = c.app("backend")
    return f"restrict-{app.name}-egress", {
        "podSelector": {"matchLabels": {"app": app.name}},
        "policyTypes": ["Egress"],
        "egress": [
            {"to": [{"podSelector": {"matchExpressions": [
                {"key": "tier", "operator": "In", "values": ["db", "cache", "queue"]}]}}],
             "ports": [{"protocol": "TCP", "port": 5432}, {"protocol": "TCP", "port": 6379},
                       {"protocol": "TCP", "port": 9092}]},
            {"to": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": PRIVATE_EXCEPT}}],
             "ports": [{"protocol": "TCP", "port": 443}]},
            DNS_EGRESS,
        ],
    }


def t_egress_frontend(c: Ctx) -> tuple[str, Spec]:
    app = c.app("frontend")
    team = c.other_team()
    return f"restrict-{app.name}-egress", {
        "podSelector": {"matchLabels": {"app": app.name}},
        "policyTypes": ["Egress"],
        "egress": [
            {"to": [{"podSelector": {"matchLabels": {"tier": "backend"}}}],
             "ports": [{"protocol": "TCP", "port": "http"}, {"protocol": "TCP", "port": "grpc"}]},
            {"to": [{"namespaceSelector": {"matchLabels": {"team": team}},
                     "podSelector": {"matchExpressions": [
                         {"key": "tier", "operator": "In", "values": ["backend", "frontend"]}]}}],
             "ports": [{"protocol": "TCP", "port": 80}, {"protocol": "TCP", "port": 8080}]},
            DNS_EGRESS,
        ],
    }


def t_allow_all(c: Ctx) -> tuple[str, Spec]:
    app = c.app("frontend")
    return f"allow-all-to-{app.name}", {"podSelector": {"matchLabels": {"app": app.name}}, "ingress": [{}]}


def t_same_namespace(c: Ctx) -> tuple[str, Spec]:
    return "allow-same-namespace", {"podSelector": {}, "ingress": [{"from": [{"podSelector": {}}]}]}


TEMPLATES: tuple[tuple[Callable[[Ctx], tuple[str, Spec]], float], ...] = (
    (t_frontend_public, 3),
    (t_backend_from_frontend, 4),
    (t_match_expressions, 2),
    (t_stable_only, 2),
    (t_from_team_namespaces, 2),
    (t_from_frontends_of_team, 2),
    (t_monitoring, 2),
    (t_ipblock, 1.5),
    (t_port_range, 1.5),
    (t_udp, 1.5),
    (t_datastore, 3),
    (t_egress_backend, 1.5),
    (t_egress_frontend, 1.5),
    (t_same_namespace, 0.5),
    (t_allow_all, 0.5),
)


def _mandatory_policies(rng: random.Random, ns: NamespaceInfo) -> list[Manifest]:
    """The namespace's baseline: a default deny (and, with egress denied, DNS and same-namespace egress)."""
    if rng.random() < 0.35:
        # Mostly DNS to kube-dns only; some namespaces allow port 53 to any destination.
        dns = DNS_EGRESS if rng.random() < 0.75 else {"ports": DNS_EGRESS["ports"]}
        return [
            _policy(ns.name, "default-deny-all", {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}),
            _policy(ns.name, "allow-dns-egress",
                    {"podSelector": {}, "policyTypes": ["Egress"], "egress": [dns]}),
            _policy(ns.name, "allow-egress-within-namespace",
                    {"podSelector": {}, "policyTypes": ["Egress"], "egress": [{"to": [{"podSelector": {}}]}]}),
        ]
    return [_policy(ns.name, "default-deny-ingress", {"podSelector": {}, "policyTypes": ["Ingress"]})]


# -- the cluster -------------------------------------------------------------------------


def generate_cluster(
    pods: int, policies: int, namespaces: int | None = None, seed: int = 1, owner_refs: bool = False,
) -> list[Manifest]:
    """Namespaces, then pods, then policies of a cluster with ``pods`` pods and ``policies`` policies.

    ``namespaces`` counts application namespaces (default ``max(2, round(pods / 100))``);
    ``kube-system`` and ``monitoring`` come on top, and their four pods count in ``pods``.
    ``owner_refs`` gives each pod an ``ownerReferences`` entry naming its ReplicaSet.
    """
    if pods < 8:
        raise ValueError("--pods must be at least 8")
    rng = random.Random(seed)
    k = namespaces if namespaces is not None else max(2, round(pods / 100))
    k = max(1, min(k, (pods - 4) // 2))

    names: set[str] = set()
    infos: list[NamespaceInfo] = []
    for i in range(k):
        team, env = TEAMS[i % len(TEAMS)], rng.choice(ENVS)
        name = f"{team}-{env}"
        n = 2
        while name in names:
            name, n = f"{team}-{env}-{n}", n + 1
        names.add(name)
        infos.append(NamespaceInfo(name, team, env))
    for info, count in zip(infos, _split(rng, pods - 4, k, minimum=2), strict=True):
        _plan_apps(rng, info, count)

    objects: list[Manifest] = [
        _namespace("kube-system", {}),
        _namespace("monitoring", {"team": "platform", "env": "prod"}),
    ]
    objects += [_namespace(i.name, {"team": i.team, "env": i.env}) for i in infos]

    ip_iter = (str(POD_CIDR[10 + j]) for j in range(POD_CIDR.num_addresses - 11))
    dns = App("coredns", AppKind(("coredns",), "system", "dns", ()), 2)
    dns_ports = (("dns", 53, "UDP"), ("dns-tcp", 53, "TCP"), ("metrics", 9153, "TCP"))
    prom = App("prometheus", AppKind(("prometheus",), "monitoring", "monitoring", (("web", 9090, "TCP"),)), 2)
    dns_hash, prom_hash = _suffix(rng, 10), _suffix(rng, 10)
    pod_names: set[tuple[str, str]] = set()
    for _ in range(2):
        objects.append(_pod(rng, "kube-system", dns, "platform", next(ip_iter), dns_hash, False, owner_refs,
                            pod_names, {"k8s-app": "kube-dns"}, dns_ports))
    for _ in range(2):
        objects.append(_pod(rng, "monitoring", prom, "platform", next(ip_iter), prom_hash, False, owner_refs,
                            pod_names))
    for info in infos:
        for app in info.apps:
            canaries = 1 if app.replicas >= 4 and rng.random() < 0.3 else 0
            stable_hash, canary_hash = _suffix(rng, 10), _suffix(rng, 10)
            for r in range(app.replicas):
                canary = r >= app.replicas - canaries
                objects.append(_pod(rng, info.name, app, info.team, next(ip_iter),
                                    canary_hash if canary else stable_hash, canary, owner_refs, pod_names))

    # Which namespaces carry policies: all but about one in eight.
    open_count = k // 8
    open_ns = set(rng.sample(range(k), open_count)) if open_count else set()
    guarded = [info for i, info in enumerate(infos) if i not in open_ns]
    pols: list[Manifest] = []
    for info in guarded:
        pols += _mandatory_policies(rng, info)
    pols = pols[:policies]
    taken = {(p["metadata"]["namespace"], p["metadata"]["name"]) for p in pols}
    funcs = [f for f, _ in TEMPLATES]
    weights = [w for _, w in TEMPLATES]
    i = 0
    while len(pols) < policies and guarded:
        info = guarded[i % len(guarded)]
        i += 1
        ctx = Ctx(rng, info, infos)
        for _attempt in range(8):  # prefer a policy the namespace does not have yet
            name, spec = rng.choices(funcs, weights)[0](ctx)
            if (info.name, name) not in taken:
                break
        base, n = name, 2
        while (info.name, name) in taken:
            name, n = f"{base}-{n}", n + 1
        taken.add((info.name, name))
        pols.append(_policy(info.name, name, spec))
    return objects + pols


def _dumper() -> type[yaml.SafeDumper]:
    return getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def write_yaml(objects: Sequence[Manifest], out: Path | str) -> list[Path]:
    """Write ``objects`` as one multi-document file, or, when ``out`` is a directory, one file a kind.

    ``out`` is taken as a directory when it is one already or when it ends with a slash.
    """
    as_dir = str(out).endswith(("/", "\\"))
    out = Path(out)
    if as_dir or out.is_dir():
        out.mkdir(parents=True, exist_ok=True)
        written = []
        for kind, fname in (("Namespace", "namespaces.yaml"), ("Pod", "pods.yaml"),
                            ("NetworkPolicy", "policies.yaml")):
            docs = [o for o in objects if o["kind"] == kind]
            path = out / fname
            with path.open("w") as fh:
                yaml.dump_all(docs, fh, Dumper=_dumper(), sort_keys=False, default_flow_style=False)
            written.append(path)
        return written
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w") as fh:
        yaml.dump_all(objects, fh, Dumper=_dumper(), sort_keys=False, default_flow_style=False)
    return [out]


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pods", type=int, required=True, help="number of pods (N), system pods included")
    ap.add_argument("--policies", type=int, required=True, help="number of NetworkPolicies (P)")
    ap.add_argument("--namespaces", type=int, default=None,
                    help="application namespaces (K, default max(2, N/100)); kube-system and monitoring come on top")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--owner-refs", action="store_true",
                    help="give pods ownerReferences to a ReplicaSet, as Deployment-made pods have")
    ap.add_argument("-o", "--output", required=True,
                    help="a .yaml file (multi-document), or a directory (ending in /) for one file a kind")
    args = ap.parse_args(argv)
    objects = generate_cluster(args.pods, args.policies, args.namespaces, args.seed, args.owner_refs)
    paths = write_yaml(objects, args.output)
    counts = {kind: sum(o["kind"] == kind for o in objects) for kind in ("Namespace", "Pod", "NetworkPolicy")}
    print(f"wrote {counts['Pod']} pods, {counts['Namespace']} namespaces, {counts['NetworkPolicy']} policies "
          f"to {', '.join(map(str, paths))}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
