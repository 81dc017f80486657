#!/usr/bin/env python3
"""A second cluster generator whose shapes differ from ``generate.py``'s.

``generate.py`` writes one big file of pods that all carry ``status.podIP`` and names made
of Kubernetes' vowel-free alphabet. Real exports look different too, and each difference
has hidden a cost in the past. This one writes:

* many small files: one directory per namespace, one file per object (``pods/NAME.yaml``,
  ``policies/NAME.yaml``), plus a few multi-document files of Services;
* pods **without** ``status`` (the simulator assigns their addresses, as a cluster would);
* names of services and hex hashes with digits and dashes (``auth-08d362b25-x7k2q``), which
  the YAML fast path used to mistake for leading-zero numbers;
* labels ``app.kubernetes.io/name``/``component``/``part-of`` and ``env``, namespaces
  labelled ``tenant`` and ``stage``; policies of other shapes: ``In`` lists on
  ``app.kubernetes.io/name``, tenant-wide namespaceSelectors, egress to named ports,
  ``from`` lists of three peers, policies for several components at once.

The output is a function of the arguments alone (same bytes for the same seed).

Usage::

    python benchmarks/generate_other.py --pods 3000 --policies 300 --seed 1 -o out/other-3000/
"""

from __future__ import annotations

import argparse
import random
import shutil
import sys
from pathlib import Path
from typing import Any

import yaml

SERVICES = ("auth", "billing", "cart", "catalog", "edge", "events", "geo", "inventory", "mail", "notify",
            "orders", "pay", "profile", "rank", "search", "session", "ship", "stock", "users", "web")
COMPONENTS = ("api", "worker", "db", "cache", "gateway")
PORTS = {"api": [("http", 8080), ("metrics", 9102)], "worker": [("metrics", 9102)], "db": [("sql", 5432)],
         "cache": [("redis", 6379)], "gateway": [("http", 80), ("https", 443)]}
TENANTS = ("acme", "globex", "initech", "umbrella", "hooli", "stark")
STAGES = ("live", "canary", "qa")


def generate(pods: int, policies: int, seed: int) -> dict[str, list[dict[str, Any]]]:
    """Objects by relative file name (a file of one object, or several for Services)."""
    rng = random.Random(seed)
    n_ns = max(2, pods // 150)
    files: dict[str, list[dict[str, Any]]] = {}
    namespaces = []
    for i in range(n_ns):
        tenant, stage = TENANTS[i % len(TENANTS)], STAGES[(i // len(TENANTS)) % len(STAGES)]
        name = f"{tenant}-{stage}-{i:02d}"
        namespaces.append((name, tenant, stage))
        files[f"{name}/namespace.yaml"] = [{"apiVersion": "v1", "kind": "Namespace",
                                            "metadata": {"name": name, "labels": {"tenant": tenant, "stage": stage}}}]
    per_ns = [pods // n_ns + (1 if i < pods % n_ns else 0) for i in range(n_ns)]
    apps_by_ns: dict[str, list[tuple[str, str]]] = {}
    for (ns, tenant, stage), count in zip(namespaces, per_ns, strict=True):
        apps = apps_by_ns[ns] = []
        made = 0
        while made < count:
            svc, comp = rng.choice(SERVICES), rng.choice(COMPONENTS)
            digest = f"{rng.getrandbits(36):09x}"
            replicas = min(count - made, rng.randint(1, 6))
            apps.append((svc, comp))
            services = []
            for _ in range(replicas):
                name = f"{svc}-{comp}-{digest}-{rng.getrandbits(20):05x}"
                labels = {"app.kubernetes.io/name": svc, "app.kubernetes.io/component": comp,
                          "app.kubernetes.io/part-of": tenant, "env": stage, "pod-template-hash": digest}
                ports = [{"name": n, "containerPort": p} for n, p in PORTS[comp]]
                files[f"{ns}/pods/{name}.yaml"] = [{
                    "apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": ns, "labels": labels},
                    "spec": {"containers": [{"name": comp, "image": f"ghcr.io/{tenant}/{svc}-{comp}:1.{made % 7}",
                                             "ports": ports}]}}]
                made += 1
            services.append({"apiVersion": "v1", "kind": "Service",
                             "metadata": {"name": f"{svc}-{comp}-{digest}", "namespace": ns},
                             "spec": {"selector": {"app.kubernetes.io/name": svc, "app.kubernetes.io/component": comp},
                                      "ports": [{"name": n, "port": p, "targetPort": n} for n, p in PORTS[comp]]}})
            files.setdefault(f"{ns}/services.yaml", []).extend(services)
    for k in range(policies):
        ns, tenant, _ = namespaces[k % n_ns]
        apps = apps_by_ns[ns]
        svc, comp = rng.choice(apps)
        shape = k // n_ns % 6
        name = f"np-{svc}-{comp}-{k:04d}"
        if shape == 0:  # default deny for the namespace
            spec: dict[str, Any] = {"podSelector": {}, "policyTypes": ["Ingress"]}
        elif shape == 1:
            spec = {"podSelector": {"matchLabels": {"app.kubernetes.io/name": svc}},
                    "ingress": [{"from": [{"podSelector": {"matchExpressions": [
                        {"key": "app.kubernetes.io/name", "operator": "In",
                         "values": sorted({rng.choice(SERVICES) for _ in range(3)})}]}}],
                        "ports": [{"port": "http"}, {"port": 8080}]}]}
        elif shape == 2:
            spec = {"podSelector": {"matchLabels": {"app.kubernetes.io/component": comp}},
                    "ingress": [{"from": [{"namespaceSelector": {"matchLabels": {"tenant": tenant}}}]}]}
        elif shape == 3:
            spec = {"podSelector": {"matchExpressions": [
                        {"key": "app.kubernetes.io/component", "operator": "In", "values": ["api", "gateway"]}]},
                    "ingress": [{"from": [
                        {"podSelector": {"matchLabels": {"app.kubernetes.io/component": "gateway"}}},
                        {"namespaceSelector": {"matchLabels": {"stage": "qa"}},
                         "podSelector": {"matchLabels": {"env": "qa"}}},
                        {"ipBlock": {"cidr": "192.168.0.0/16", "except": ["192.168.7.0/24"]}}]}]}
        elif shape == 4:
            spec = {"podSelector": {"matchLabels": {"app.kubernetes.io/name": svc,
                                                    "app.kubernetes.io/component": comp}},
                    "policyTypes": ["Egress"],
                    "egress": [{"to": [{"podSelector": {"matchLabels": {"app.kubernetes.io/component": "db"}}}],
                                "ports": [{"port": "sql"}]},
                               {"to": [{"namespaceSelector": {}}], "ports": [{"port": 53, "protocol": "UDP"}]}]}
        else:
            spec = {"podSelector": {"matchExpressions": [{"key": "env", "operator": "NotIn", "values": ["qa"]}]},
                    "ingress": [{"from": [{"podSelector": {}}]}, {"ports": [{"port": 9102}]}]}
        files[f"{ns}/policies/{name}.yaml"] = [{"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
                                                "metadata": {"name": name, "namespace": ns}, "spec": spec}]
    return files


def write(files: dict[str, list[dict[str, Any]]], out: Path) -> int:
    if out.exists():
        shutil.rmtree(out)
    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    for rel, docs in files.items():
        path = out / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w") as fh:
            yaml.dump_all(docs, fh, Dumper=dumper, sort_keys=False, default_flow_style=False)
    return len(files)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pods", type=int, required=True)
    ap.add_argument("--policies", type=int, required=True)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("-o", "--output", required=True, help="a directory (replaced)")
    args = ap.parse_args(argv)
    count = write(generate(args.pods, args.policies, args.seed), Path(args.output))
    print(f"wrote {args.pods} pods, {args.policies} policies in {count} files to {args.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
