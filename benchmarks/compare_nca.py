#!/usr/bin/env python3
"""Cross-check ``nphelpers matrix`` against network-config-analyzer (nca) on one cluster.

Both tools read the same generated YAML. nphelpers answers one port/protocol (default
80/TCP) for every ordered pod pair; nca's ``txt_no_fw_rules`` connectivity map gives every
pod pair's full connection set, from which this script keeps the pairs whose set admits
that port/protocol. nca leaves out a pod's connection to itself, so self-pairs are not
compared.

For every pair on which the tools disagree the script can show the policies that select
the source for egress and the destination for ingress (matched here by a small selector
matcher of its own, independent of nphelpers), so a person can judge which tool is right.

Usage::

    python benchmarks/compare_nca.py                      # 200 pods / 20 policies, seed 1, 80/TCP
    python benchmarks/compare_nca.py --pods 1000 --policies 100 --ports 80/TCP,8080/TCP,53/UDP
    python benchmarks/compare_nca.py --cluster c.yaml --nphelpers-json m.json --nca-txt nca.txt --ports 80/TCP
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml
from generate import generate_cluster, write_yaml
from ncatools import (
    HERE,
    NCA_SPEC,
    NCA_VENV,
    conn_allows,
    ensure_nca,
    nca_connectivity_argv,
    nca_version,
    parse_nca_txt,
    project_python,
    run_measured,
)

Manifest = Mapping[str, Any]
NAME_LABEL = "kubernetes.io/metadata.name"


def _loader() -> type[yaml.SafeLoader]:
    return getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def selector_matches(sel: Mapping[str, Any] | None, labels: Mapping[str, str]) -> bool:
    """A LabelSelector as the apiserver reads it (``{}`` or absent selects everything)."""
    sel = sel or {}
    for k, v in (sel.get("matchLabels") or {}).items():
        if labels.get(k) != v:
            return False
    for e in sel.get("matchExpressions") or ():
        key, op, values = e["key"], e["operator"], e.get("values") or []
        present = key in labels
        if op == "In" and not (present and labels[key] in values):
            return False
        if op == "NotIn" and present and labels[key] in values:
            return False
        if op == "Exists" and not present:
            return False
        if op == "DoesNotExist" and present:
            return False
    return True


def policy_types(spec: Mapping[str, Any]) -> list[str]:
    return list(spec.get("policyTypes") or (["Ingress", "Egress"] if spec.get("egress") else ["Ingress"]))


class Cluster:
    """The generated objects, indexed for explaining a pair."""

    def __init__(self, objects: Iterable[Manifest]) -> None:
        self.ns_labels: dict[str, dict[str, str]] = {}
        self.pods: dict[str, Manifest] = {}
        self.policies: list[Manifest] = []
        for o in objects:
            meta = o["metadata"]
            if o["kind"] == "Namespace":
                self.ns_labels[meta["name"]] = {NAME_LABEL: meta["name"], **(meta.get("labels") or {})}
            elif o["kind"] == "Pod":
                self.pods[f"{meta['namespace']}/{meta['name']}"] = o
            elif o["kind"] == "NetworkPolicy":
                self.policies.append(o)

    def labels(self, pod: str) -> dict[str, str]:
        obj = self.pods.get(pod)
        return dict(obj["metadata"].get("labels") or {}) if obj else {}

    def selecting(self, pod: str, direction: str) -> list[Manifest]:
        ns = pod.split("/", 1)[0]
        return [p for p in self.policies
                if p["metadata"]["namespace"] == ns and direction in policy_types(p["spec"])
                and selector_matches(p["spec"].get("podSelector"), self.labels(pod))]


def _short(policy: Manifest, direction: str) -> str:
    """One line per policy: its name and the rules of one direction, in flow style."""
    spec = policy["spec"]
    rules = spec.get("ingress" if direction == "Ingress" else "egress") or []
    body = yaml.safe_dump(rules, default_flow_style=True, width=10_000).strip()
    return f"{policy['metadata']['namespace']}/{policy['metadata']['name']} {direction.lower()}: {body}"


def explain_pair(cluster: Cluster, src: str, dst: str, nca_conn: str | None, out: list[str]) -> None:
    out.append(f"  {src} -> {dst}   nca says: {nca_conn or 'no connection listed'}")
    out.append(f"    source labels {cluster.labels(src)}  ns labels {cluster.ns_labels.get(src.split('/')[0])}")
    out.append(f"    dest   labels {cluster.labels(dst)}  ns labels {cluster.ns_labels.get(dst.split('/')[0])}")
    if src not in cluster.pods or dst not in cluster.pods:
        out.append("    (a pod not in the YAML)")
        return
    ports = cluster.pods[dst]["spec"]["containers"][0].get("ports") or []
    out.append(f"    dest ports {[(p.get('name'), p['containerPort'], p.get('protocol', 'TCP')) for p in ports]}")
    for direction, pod in (("Egress", src), ("Ingress", dst)):
        pols = cluster.selecting(pod, direction)
        if not pols:
            out.append(f"    {direction.lower()}: no policy selects {pod} (not isolated)")
        for p in pols:
            out.append(f"    {_short(p, direction)}")


def parse_ports(text: str) -> list[tuple[int, str]]:
    out = []
    for item in text.split(","):
        port, _, proto = item.strip().partition("/")
        out.append((int(port), (proto or "TCP").upper()))
    return out


def run_nphelpers(args: argparse.Namespace, cluster_path: Path, work: Path, port: int, protocol: str) -> Path | None:
    np_json = work / f"nphelpers-{port}-{protocol}.json"
    m = run_measured([args.python, "-m", "nphelpers", "matrix", "-f", str(cluster_path), "--port",
                      str(port), "--protocol", protocol, "-o", "json"],
                     np_json, work / "nphelpers.err", cwd=HERE.parent)
    if not m.ok:
        print(f"nphelpers failed: {m.stderr.read_text()[-2000:]}", file=sys.stderr)
        return None
    print(f"nphelpers matrix {port}/{protocol}: {m.wall_s:.2f} s")
    return np_json


def compare_port(cluster: Cluster, data: Mapping[str, Any], nca_conn: Mapping[tuple[str, str], list[str]],
                 port: int, protocol: str, show: int) -> bool:
    """Print the agreement on one port/protocol; True when the tools agree on every pair."""
    np_pods = list(data["pods"])
    np_all = {(s, d) for s, d in data["allowed"]}
    np_pairs = {(s, d) for s, d in np_all if s != d}
    nca_pairs = {k for k, cs in nca_conn.items() if any(conn_allows(c, port, protocol) for c in cs)}

    pods = set(cluster.pods)
    print(f"\n=== {port}/{protocol} ===")
    print(f"nphelpers: {len(np_pods)} pods in its output (same set as the YAML: {set(np_pods) == pods}); "
          f"{len(np_pairs)} allowed pairs without self-pairs ({len(np_all) - len(np_pairs)} self-pairs left out)")
    print(f"nca: {len(nca_pairs)} pod pairs admit {port}/{protocol}")

    total = len(pods) * (len(pods) - 1)
    both = np_pairs & nca_pairs
    only_np = sorted(np_pairs - nca_pairs)
    only_nca = sorted(nca_pairs - np_pairs)
    neither = total - len(np_pairs | nca_pairs)
    print(f"ordered pairs compared (self-pairs excluded): {total}")
    print(f"  agree allowed: {len(both)}")
    print(f"  agree blocked: {neither}")
    print(f"  agree in all : {len(both) + neither} ({100 * (len(both) + neither) / total:.3f}%)")
    print(f"  allowed by nphelpers only: {len(only_np)}")
    print(f"  allowed by nca only      : {len(only_nca)}")

    for title, pairs in (("allowed by nphelpers, not by nca", only_np), ("allowed by nca, not by nphelpers", only_nca)):
        if not pairs:
            continue
        by_ns = Counter((s.split("/")[0], d.split("/")[0]) for s, d in pairs)
        print(f"\n{title}: {len(pairs)} pairs; by (source ns, destination ns): {by_ns.most_common(6)}")
        lines: list[str] = []
        # One example per distinct (source app, destination app) first, so the list shows variety.
        seen: set[tuple[str, str]] = set()
        for s, d in pairs:
            key = (cluster.labels(s).get("app", s), cluster.labels(d).get("app", d))
            if key in seen:
                continue
            seen.add(key)
            explain_pair(cluster, s, d, " + ".join(nca_conn.get((s, d), [])), lines)
            if len(seen) >= show:
                break
        print("\n".join(lines))
    return not only_np and not only_nca


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pods", type=int, default=200)
    ap.add_argument("--policies", type=int, default=20)
    ap.add_argument("--namespaces", type=int, default=None)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--ports", default="80/TCP",
                    help="comma-separated PORT/PROTOCOL list, e.g. 80/TCP,8080/TCP,53/UDP (default 80/TCP)")
    ap.add_argument("--cluster", type=Path, default=None,
                    help="use this YAML file (or directory of them) instead of generating one")
    ap.add_argument("--nphelpers-json", type=Path, default=None,
                    help="reuse an `nphelpers matrix -o json` output (one port only)")
    ap.add_argument("--nca-txt", type=Path, default=None, help="reuse an nca txt_no_fw_rules output")
    ap.add_argument("--python", default=project_python())
    ap.add_argument("--nca-venv", type=Path, default=NCA_VENV)
    ap.add_argument("--nca-timeout", type=float, default=600)
    ap.add_argument("--show", type=int, default=8, help="disagreements to explain in each direction")
    ap.add_argument("--out-dir", type=Path, default=HERE / "out")
    args = ap.parse_args(argv)
    ports = parse_ports(args.ports)
    args.out_dir = args.out_dir.resolve()  # the tools run in other directories
    if args.cluster:
        args.cluster = args.cluster.resolve()
    if args.nphelpers_json and len(ports) != 1:
        ap.error("--nphelpers-json goes with a single port in --ports")

    name = f"{args.cluster.parent.name}-{args.cluster.stem}" if args.cluster else \
        f"n{args.pods}-p{args.policies}-s{args.seed}"
    work = args.out_dir / f"compare-{name}"
    work.mkdir(parents=True, exist_ok=True)
    if args.cluster:
        cluster_path = args.cluster
        files = sorted(cluster_path.glob("*.y*ml")) if cluster_path.is_dir() else [cluster_path]
        objects = [o for f in files for o in yaml.load_all(f.read_text(), Loader=_loader())]
    else:
        cluster_path = work / "cluster.yaml"
        objects = generate_cluster(args.pods, args.policies, args.namespaces, args.seed)
        write_yaml(objects, cluster_path)
    cluster = Cluster(o for o in objects if o)
    print(f"cluster {cluster_path}: {len(cluster.pods)} pods, {len(cluster.ns_labels)} namespaces, "
          f"{len(cluster.policies)} policies")

    nca_txt = args.nca_txt
    if nca_txt is None:
        exe = ensure_nca(args.nca_venv, NCA_SPEC)
        nca_txt = work / "nca.txt_no_fw_rules.txt"
        nca_txt.unlink(missing_ok=True)  # nca appends to --file_out
        argv_nca = nca_connectivity_argv(exe, cluster_path.resolve(), nca_txt.resolve())
        print(f"nca: {nca_version(exe)}: {' '.join(argv_nca)}")
        m = run_measured(argv_nca, work / "nca.log", work / "nca.err", args.nca_timeout, cwd=work)
        if not m.ok:
            print(f"nca failed or timed out: {m.stderr.read_text()[-2000:]}", file=sys.stderr)
            return 1
        print(f"nca connectivity: {m.wall_s:.2f} s")
    # nca may print one pair on several lines, each with part of its connections: join them.
    nca_conn: dict[tuple[str, str], list[str]] = {}
    for e in parse_nca_txt(nca_txt.read_text()):
        nca_conn.setdefault((e.src, e.dst), []).append(e.conn)
    nca_pods = {p for pair in nca_conn for p in pair}
    print(f"nca: {len(nca_pods)} pods named in its output (all from the YAML: {nca_pods <= set(cluster.pods)}); "
          f"{len(nca_conn)} pod pairs with some connection")

    all_agree = True
    for port, protocol in ports:
        np_json = args.nphelpers_json or run_nphelpers(args, cluster_path, work, port, protocol)
        if np_json is None:
            return 1
        data = json.loads(np_json.read_text())
        if (data["port"], data["protocol"]) != (port, protocol):
            print(f"nphelpers output is for {data['port']}/{data['protocol']}, not {port}/{protocol}",
                  file=sys.stderr)
            return 1
        all_agree &= compare_port(cluster, data, nca_conn, port, protocol, args.show)
    print("\nverdict: " + ("the tools agree on every pair" if all_agree else "the tools DISAGREE (see above)"))
    return 0 if all_agree else 2


if __name__ == "__main__":
    raise SystemExit(main())
