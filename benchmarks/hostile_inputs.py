#!/usr/bin/env python3
"""Time and peak memory of ``nphelpers matrix`` on crafted inputs, one family at a time.

Every case is a file (or a special file) that once cost a traceback, minutes or gigabytes.
Each runs as a whole process (``python -m nphelpers matrix -f CASE -o json``), measured by
the launcher of ``ncatools.run_measured`` (wall time, CPU time, peak RSS from ``wait4``),
with a timeout. The table shows the exit status, the figures, how many lines the process
wrote to stderr and the first of them, cut to 110 characters.

Usage::

    python benchmarks/hostile_inputs.py                 # every case
    python benchmarks/hostile_inputs.py --only alias    # the cases whose name contains "alias"
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from ncatools import ROOT, run_measured

POD = """apiVersion: v1
kind: Pod
metadata:
  name: {name}
  labels: {{app: web}}
spec:
  containers:
  - name: main
    image: nginx
"""
POLICY_PORT = """apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {{name: p}}
spec:
  podSelector: {{}}
  ingress:
  - ports:
    - port: {port}
"""
DEPLOYMENT = """apiVersion: apps/v1
kind: Deployment
metadata: {{name: web}}
spec:
  replicas: {replicas}
  selector: {{matchLabels: {{app: web}}}}
  template:
    metadata: {{labels: {{app: web}}}}
    spec: {{containers: [{{name: c, image: nginx}}]}}
"""


def _laughs(levels: int, width: int, leaf: str) -> list[str]:
    """The lines of a 'billion laughs' alias tree: level i is ``width`` aliases of level i-1."""
    lines = [f"l0: &l0 {leaf}"]
    for i in range(1, levels):
        lines.append(f"l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * width) + "]")
    return lines


def alias_bomb_api_version(d: Path) -> str:
    text = "\n".join(["x:", *("  " + line for line in _laughs(9, 9, '"lol"')),
                      "apiVersion: *l8", "kind: Pod", "metadata: {name: a}"]) + "\n"
    return _write(d / "bomb-apiversion.yaml", text)


def alias_bomb_configmaps(d: Path) -> str:
    leaf = "{apiVersion: v1, kind: ConfigMap, metadata: {name: c}}"
    lines = _laughs(8, 7, leaf)
    text = "kind: List\nx:\n" + "\n".join("  " + line for line in lines) + "\nitems: *l7\n"
    return _write(d / "bomb-configmaps.yaml", text)


def _write(path: Path, text: str) -> str:
    path.write_text(text)
    return str(path)


CASES: dict[str, Callable[[Path], str]] = {
    "tag !!int 'eighty'": lambda d: _write(d / "tag-int.yaml", POLICY_PORT.format(port="!!int 'eighty'")),
    "tag !!python/object": lambda d: _write(d / "tag-python.yaml", "a: !!python/object/apply:os.system ['true']\n"),
    "custom tag !Ref": lambda d: _write(d / "tag-custom.yaml", POLICY_PORT.format(port="!Ref http")),
    "5,000-digit port": lambda d: _write(d / "port-digits.yaml", POLICY_PORT.format(port="9" * 5000)),
    "!!int 5,000 digits": lambda d: _write(d / "port-tagged.yaml",
                                           POLICY_PORT.format(port="!!int '" + "9" * 5000 + "'")),
    "port 1e30": lambda d: _write(d / "port-float.yaml", POLICY_PORT.format(port="1.0e+30")),
    "replicas 1e30": lambda d: _write(d / "replicas-float.yaml", DEPLOYMENT.format(replicas="1.0e+30")),
    "replicas 2147483648": lambda d: _write(d / "replicas-int32.yaml", DEPLOYMENT.format(replicas=2**31)),
    "replicas 2147483647": lambda d: _write(d / "replicas-max.yaml", DEPLOYMENT.format(replicas=2**31 - 1)),
    "replicas 100000": lambda d: _write(d / "replicas-100k.yaml", DEPLOYMENT.format(replicas=100_000)),
    "replicas 50000 (the limit; -o classes)": lambda d: _write(d / "replicas-50k.yaml",
                                                              DEPLOYMENT.format(replicas=50_000)),
    "nesting 100,000 [": lambda d: _write(d / "deep-flow.yaml", "a: " + "[" * 100_000 + "]" * 100_000 + "\n"),
    "nesting 5,000 blocks": lambda d: _write(
        d / "deep-block.yaml", "".join(" " * i + f"k{i}:\n" for i in range(5000)) + " " * 5000 + "v: 1\n"),
    "-f /dev/zero": lambda d: "/dev/zero",
    "-f FIFO": lambda d: (os.mkfifo(d / "fifo.yaml"), str(d / "fifo.yaml"))[1],
    "alias bomb in apiVersion": alias_bomb_api_version,
    "alias bomb of ConfigMaps": alias_bomb_configmaps,
    "50 MB of small documents": lambda d: _write(d / "many-docs.yaml", "---\na: 1\n" * 5_000_000),
    "30 MB of small documents": lambda d: _write(d / "docs-30.yaml", "---\na: 1\n" * 3_000_000),
    "30 MB of empty documents": lambda d: _write(d / "empty-30.yaml", "---\n" * 7_500_000),
    "25 MB of ConfigMaps": lambda d: _write(
        d / "configmaps.yaml", "".join(f"---\napiVersion: v1\nkind: ConfigMap\nmetadata: {{name: c{i}}}\n"
                                       for i in range(400_000))),
    "90,000 ConfigMaps (under the limits)": lambda d: _write(
        d / "configmaps-90k.yaml", "".join(f"---\napiVersion: v1\nkind: ConfigMap\nmetadata: {{name: c{i}}}\n"
                                           for i in range(90_000))),
    "50 MB name": lambda d: _write(d / "long-name.yaml", POD.format(name="a" * 50_000_000)),
    "20 MB name": lambda d: _write(d / "long-name-20.yaml", POD.format(name="a" * 20_000_000)),
    "NUL byte between pods": lambda d: _write(d / "nul.yaml",
                                              POD.format(name="a") + "---\n\0\n" + POD.format(name="b")),
    "%YAML 1.2 directive": lambda d: _write(d / "directive.yaml", "%YAML 1.2\n---\n" + POD.format(name="a")),
}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", default="", help="run the cases whose name contains this")
    ap.add_argument("--timeout", type=float, default=120)
    args = ap.parse_args(argv)
    python = sys.executable
    env_path = str(ROOT)
    os.environ["PYTHONPATH"] = env_path + os.pathsep + os.environ.get("PYTHONPATH", "")
    print("| case | exit | wall s | peak MiB | stderr lines | first stderr line |\n|---|---:|---:|---:|---:|---|")
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        for name, make in CASES.items():
            if args.only not in name:
                continue
            target = make(d)
            out, err = d / "out.json", d / "err.txt"
            fmt = "classes" if "-o classes" in name else "json"  # 50,000² pairs would be 100 GB of JSON
            m = run_measured([python, "-m", "nphelpers", "matrix", "-f", target, "-o", fmt], out, err,
                             timeout=args.timeout)
            lines = err.read_text(errors="replace").splitlines()
            first = lines[0] if lines else ""
            first = first if len(first) <= 110 else first[:107] + "..."
            code = "timeout" if m.timed_out else str(m.returncode)
            print(f"| {name} | {code} | {m.wall_s:.2f} | {m.peak_rss_mib:.0f} | {len(lines)} | "
                  f"{first.replace('|', '/')} |", flush=True)
            for path in d.iterdir():
                if path.is_file() and not path.is_fifo():
                    path.unlink()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
