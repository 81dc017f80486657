#!/usr/bin/env python3
"""Time ``nphelpers matrix`` against network-config-analyzer (nca) on generated clusters.

For each size N/P (pods/policies) the script generates a cluster with ``generate.py``
(same seed for every tool), then times, as whole processes from start to exit:

* ``nphelpers matrix -f CLUSTER.yaml -o json`` (the project venv's python), which decides
  every ordered pod pair for one port/protocol (default 80/TCP); and
* ``nca --connectivity --resource_list CLUSTER.yaml --output_format txt_no_fw_rules``
  (nca in its own venv, ``benchmarks/.nca-venv``, made on first use), which computes the
  full connectivity map (every port and protocol) of every pod pair and prints it unminimised.

Wall time, CPU time and peak RSS of each command (read by a small launcher with ``wait4``)
are reported, with the number of allowed pairs each tool found on the port and the growth
of the time from one size to the next set against the growth of N². ``--repeat R`` keeps
the fastest of R nphelpers runs.

Usage::

    python benchmarks/run.py                              # 200/20,1000/100,3000/300,10000/1000
    python benchmarks/run.py --sizes 200/20,1000/100 --nca-timeout 300
    python benchmarks/run.py --sizes 10000/1000 --no-nca
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import platform
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from generate import generate_cluster, write_yaml
from ncatools import (
    HERE,
    NCA_SPEC,
    NCA_VENV,
    Measured,
    ensure_nca,
    nca_allowed_pairs,
    nca_connectivity_argv,
    nca_endpoint_count,
    nca_version,
    project_python,
    run_measured,
)

DEFAULT_SIZES = "200/20,1000/100,3000/300,10000/1000"
NCA_MAX_PODS = 10_000  # nca 2.1.0: BasePeerSet asserts len(peers) < max_num_of_pods = 10000


@dataclass
class ToolResult:
    status: str  # "ok", "timeout", "failed", "skipped"
    wall_s: float | None = None
    cpu_s: float | None = None
    peak_rss_mib: float | None = None
    allowed: int | None = None  # allowed ordered pairs of two different pods
    allowed_with_self: int | None = None  # as the tool reported them, a pod's connection to itself included
    note: str = ""
    load_before: float | None = None  # 1-minute load average as the run started


def _result(status: str, m: Measured, **kw: Any) -> ToolResult:
    def num(x: float) -> float | None:  # no NaN in the results file: it is not JSON
        return None if math.isnan(x) else x

    return ToolResult(status, m.wall_s, num(m.cpu_s), num(m.peak_rss_mib), load_before=m.load_before, **kw)


@dataclass
class SizeResult:
    pods: int
    policies: int
    namespaces: int
    yaml_mib: float
    nphelpers: ToolResult
    nca: ToolResult


def code_version() -> str:
    """The commit nphelpers was measured at, ``+dirty`` when its files had uncommitted changes."""
    def git(*a: str) -> str:
        res = subprocess.run(["git", *a], capture_output=True, text=True, cwd=HERE.parent, check=False)
        return res.stdout.strip() if res.returncode == 0 else ""

    head = git("rev-parse", "--short", "HEAD") or "unknown"
    return head + ("+dirty" if git("status", "--porcelain", "--", "nphelpers") else "")


def parse_sizes(text: str) -> list[tuple[int, int]]:
    sizes = []
    for item in text.split(","):
        n, _, p = item.strip().partition("/")
        sizes.append((int(n), int(p)))
    return sizes


def _tail(path: Path, lines: int = 5) -> str:
    try:
        return " | ".join(path.read_text(errors="replace").strip().splitlines()[-lines:])
    except OSError:
        return ""


def run_nphelpers(python: str, cluster: Path, out_dir: Path, port: int, protocol: str,
                  timeout: float | None, keep: bool = False) -> ToolResult:
    argv = [python, "-m", "nphelpers", "matrix", "-f", str(cluster), "--port", str(port),
            "--protocol", protocol, "-o", "json"]
    m: Measured = run_measured(argv, out_dir / "nphelpers.json", out_dir / "nphelpers.err", timeout, cwd=HERE.parent)
    if m.timed_out:
        return _result("timeout", m, note=f"did not finish in {timeout:.0f} s")
    if not m.ok:
        return _result("failed", m, note=_tail(m.stderr))
    data = json.loads(m.stdout.read_text())
    if not keep:
        m.stdout.unlink()  # 1.3 GB at 10,000 pods
    n_pods = len(data["pods"])
    self_pairs = sum(1 for s, d in data["allowed"] if s == d)
    total = len(data["allowed"])
    note = f"{n_pods} pods in output; {total} allowed pairs of which {self_pairs} from a pod to itself"
    return _result("ok", m, allowed=total - self_pairs, allowed_with_self=total, note=note)


def run_nca(exe: Path, cluster: Path, out_dir: Path, port: int, protocol: str, fmt: str, pods: int,
            timeout: float | None, keep: bool = False, count_pairs: bool = True) -> ToolResult:
    """nca's connectivity map; ``count_pairs`` false when its output names workloads, not pods."""
    out_file = out_dir / f"nca.{fmt}.txt"
    if out_file.exists():
        out_file.unlink()
    argv = nca_connectivity_argv(exe, cluster, out_file, fmt)
    m: Measured = run_measured(argv, out_dir / "nca.log", out_dir / "nca.err", timeout, cwd=out_dir)
    if m.timed_out:
        return _result("timeout", m, note=f"did not finish in {timeout:.0f} s")
    log = m.stdout.read_text(errors="replace") + m.stderr.read_text(errors="replace")
    if not m.ok or not out_file.exists():
        note = _tail(m.stderr)
        if pods >= NCA_MAX_PODS:
            note += f" (nca 2.1.0 holds fewer than {NCA_MAX_PODS} pods: an assert in its CoreDS/Peer.py)"
        return _result("failed", m, note=note)
    seen = nca_endpoint_count(log)
    note = f"nca saw {seen[0]} endpoints in {seen[1]} namespaces" if seen else "nca printed no endpoint count"
    allowed = None
    if fmt == "txt_no_fw_rules" and count_pairs:  # nca leaves out a pod's connections to itself
        allowed = len(nca_allowed_pairs(out_file.read_text(), port, protocol))
    if not keep:
        out_file.unlink()
    return _result("ok", m, allowed=allowed, note=note)


def _fmt_time(r: ToolResult) -> str:
    if r.status == "ok":
        return f"{r.wall_s:.2f} ({r.cpu_s:.2f})"
    if r.status == "timeout":
        return f">{r.wall_s:.0f} (timeout)"
    return r.status


def _fmt_mem(r: ToolResult) -> str:
    if r.peak_rss_mib is None or r.status == "skipped":
        return "-"
    return f"{r.peak_rss_mib:.0f}"


def _fmt_allowed(r: ToolResult, pods: int) -> str:
    if r.allowed is None:
        return "-"
    return f"{r.allowed} ({100 * r.allowed / (pods * (pods - 1)):.1f}%)"


def print_table(results: Sequence[SizeResult], port: int, protocol: str) -> None:
    headers = ["N pods", "P pols", "K ns", "nphelpers s (cpu)", "nphelpers MiB", f"allowed {port}/{protocol}",
               "nca s (cpu)", "nca MiB", f"nca allowed {port}/{protocol}", "nca/nphelpers time"]
    print(f"s = wall-clock seconds of the whole process (CPU seconds, user + system); MiB = its peak RSS;\n"
          f"allowed = ordered pairs of two different pods allowed on {port}/{protocol} (% of N·(N-1)); "
          "K counts all namespaces\n")
    rows = []
    for r in results:
        ratio = "-"
        if r.nphelpers.status == "ok" and r.nca.status == "ok":
            ratio = f"{r.nca.wall_s / r.nphelpers.wall_s:.1f}x"  # type: ignore[operator]
        elif r.nphelpers.status == "ok" and r.nca.status == "timeout":
            ratio = f">{r.nca.wall_s / r.nphelpers.wall_s:.1f}x"  # type: ignore[operator]
        rows.append([str(r.pods), str(r.policies), str(r.namespaces), _fmt_time(r.nphelpers), _fmt_mem(r.nphelpers),
                     _fmt_allowed(r.nphelpers, r.pods), _fmt_time(r.nca), _fmt_mem(r.nca),
                     _fmt_allowed(r.nca, r.pods), ratio])
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(headers)]
    print("  ".join(h.rjust(w) for h, w in zip(headers, widths, strict=True)))
    print("  ".join("-" * w for w in widths))
    for row in rows:
        print("  ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)))


def print_growth(results: Sequence[SizeResult]) -> None:
    print("\ngrowth between consecutive sizes (time ratio vs N² ratio):")
    for a, b in zip(results, results[1:], strict=False):
        n2 = (b.pods / a.pods) ** 2
        parts = [f"  {a.pods} -> {b.pods}: N² x{n2:.1f}"]
        for name in ("nphelpers", "nca"):
            ra: ToolResult = getattr(a, name)
            rb: ToolResult = getattr(b, name)
            if ra.status == "ok" and rb.status == "ok":
                parts.append(f"{name} x{rb.wall_s / ra.wall_s:.1f} (cpu x{rb.cpu_s / ra.cpu_s:.1f})")  # type: ignore[operator]
            elif ra.status == "ok" and rb.status == "timeout":
                parts.append(f"{name} >x{rb.wall_s / ra.wall_s:.1f} (timed out)")  # type: ignore[operator]
            else:
                parts.append(f"{name} -")
        print(", ".join(parts))


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default=DEFAULT_SIZES, help=f"comma-separated N/P pairs (default {DEFAULT_SIZES})")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--namespaces", type=int, default=None, help="application namespaces (default N/100)")
    ap.add_argument("--owner-refs", action="store_true",
                    help="pods carry ReplicaSet ownerReferences (nca then keeps only 2 replicas per workload)")
    ap.add_argument("--port", type=int, default=80)
    ap.add_argument("--protocol", default="TCP", choices=("TCP", "UDP", "SCTP"))
    ap.add_argument("--python", default=project_python(), help="interpreter that runs nphelpers")
    ap.add_argument("--timeout", type=float, default=3600, help="limit for nphelpers, seconds")
    ap.add_argument("--repeat", type=int, default=1, help="run nphelpers this many times and keep the fastest")
    ap.add_argument("--no-nca", action="store_true", help="time nphelpers alone")
    ap.add_argument("--nca-timeout", type=float, default=600)
    ap.add_argument("--nca-max-pods", type=int, default=None, help="skip nca above this many pods")
    ap.add_argument("--nca-format", default="txt_no_fw_rules",
                    help="nca --output_format (txt_no_fw_rules lists every pair; txt minimises to fw rules)")
    ap.add_argument("--nca-venv", type=Path, default=NCA_VENV)
    ap.add_argument("--out-dir", type=Path, default=HERE / "out")
    ap.add_argument("--keep-outputs", action="store_true",
                    help="keep the tools' outputs (deleted once counted: nphelpers' JSON is 1.3 GB at 10,000 pods)")
    ap.add_argument("--json", type=Path, default=None,
                    help="also write the results here (default OUT-DIR/results.json)")
    args = ap.parse_args(argv)
    args.out_dir = args.out_dir.resolve()  # the tools run in other directories

    sizes = parse_sizes(args.sizes)
    exe = None if args.no_nca else ensure_nca(args.nca_venv, NCA_SPEC)
    version = nca_version(exe) if exe else "not run"
    version_np = code_version()
    print(f"nphelpers {version_np}: {args.python} -m nphelpers matrix ... -o json (port {args.port}/{args.protocol})")
    print(f"nca: {exe} ({version}), --output_format {args.nca_format}" if exe else "nca: skipped")
    print(f"machine: {platform.machine()} {os.cpu_count()} cpus, python {platform.python_version()}\n")

    results: list[SizeResult] = []
    for n, p in sizes:
        out_dir = args.out_dir / f"n{n}-p{p}-s{args.seed}{'-owners' if args.owner_refs else ''}"
        out_dir.mkdir(parents=True, exist_ok=True)
        cluster = out_dir / "cluster.yaml"
        objects = generate_cluster(n, p, args.namespaces, args.seed, args.owner_refs)
        write_yaml(objects, cluster)
        k = sum(o["kind"] == "Namespace" for o in objects)
        print(f"[{n}/{p}] generated {cluster} ({k} namespaces); running nphelpers...", file=sys.stderr, flush=True)
        runs = [run_nphelpers(args.python, cluster, out_dir, args.port, args.protocol, args.timeout,
                              args.keep_outputs) for _ in range(max(1, args.repeat))]
        np_res = min(runs, key=lambda r: (r.status != "ok", r.wall_s or 0.0))  # the fastest successful run
        if len(runs) > 1:
            walls = ", ".join(f"{r.wall_s:.2f}" for r in runs)
            np_res.note += f"; best of {len(runs)} runs (wall s: {walls})"
        print(f"[{n}/{p}] nphelpers: {np_res.status} {_fmt_time(np_res)} s {np_res.note}", file=sys.stderr, flush=True)
        if exe is None or (args.nca_max_pods is not None and n > args.nca_max_pods):
            nca_res = ToolResult("skipped")
        else:
            print(f"[{n}/{p}] running nca (timeout {args.nca_timeout:.0f} s)...", file=sys.stderr, flush=True)
            # With ownerReferences nca keeps 2 pods per workload and reports workloads: no pod pairs to count.
            nca_res = run_nca(exe, cluster, out_dir, args.port, args.protocol, args.nca_format, n,
                              args.nca_timeout, args.keep_outputs, count_pairs=not args.owner_refs)
            print(f"[{n}/{p}] nca: {nca_res.status} {_fmt_time(nca_res)} s {nca_res.note}", file=sys.stderr,
                  flush=True)
        results.append(SizeResult(n, p, k, cluster.stat().st_size / 2**20, np_res, nca_res))

    print()
    print_table(results, args.port, args.protocol)
    print_growth(results)
    for r in results:
        for name in ("nphelpers", "nca"):
            res: ToolResult = getattr(r, name)
            if res.note:
                print(f"  {r.pods}/{r.policies} {name}: {res.note}")
    json_path = args.json or args.out_dir / "results.json"
    json_path.parent.mkdir(parents=True, exist_ok=True)
    json_path.write_text(json.dumps({
        "date": dt.date.today().isoformat(),
        "cpus": os.cpu_count(),
        "python": args.python,
        "nphelpers_commit": version_np,
        "nca": version,
        "nca_format": args.nca_format,
        "port": args.port,
        "protocol": args.protocol,
        "seed": args.seed,
        "owner_refs": args.owner_refs,
        "results": [asdict(r) for r in results],
    }, indent=2))
    print(f"\nresults written to {json_path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
