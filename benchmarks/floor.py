#!/usr/bin/env python3
"""``nphelpers matrix -o json`` against its floor, and nca, on two generators, in one run.

The floor of a whole ``matrix -o json`` process is what no implementation in Python can
avoid: starting the interpreter, parsing the same YAML files with ``yaml_rs`` and writing
the same number of bytes to the same kind of file. It is measured as a process of its own
(this script with ``--floor``) that does exactly that: it reads and parses every file,
then writes the first 256 KiB of nphelpers' own output again and again up to the same
size, in writes of 256 KiB (on this machine 1 MiB writes are slower and erratic: 0.6 to
4.5 s for the same 1.4 GB, against a steady 0.55 s). Runs of nphelpers and of the floor
take turns, each after deleting its previous output and syncing the file system, so that
no run pays for writing back another's gigabytes.

For each generator (``generate.py``: one big file, every pod with ``status.podIP``;
``generate_other.py``: a directory of small files, pods without addresses, names with
digits and dashes) and each size, it prints wall time, CPU time (with its workers') and
peak RSS (of the largest process) of nphelpers,
of the floor and, up to ``--nca-max-pods``, of nca (``--connectivity``, its own venv; see
README.md), the ratio nphelpers ÷ floor, and the size and checksum of nphelpers' output.
``-o classes`` is timed beside it.

Usage::

    python benchmarks/floor.py                                  # 3000/300 and 10000/1000, both generators
    python benchmarks/floor.py --sizes 30000/3000 --no-nca
"""

from __future__ import annotations

import argparse
import glob
import hashlib
import os
import subprocess
import sys
from pathlib import Path

from ncatools import HERE, NCA_VENV, ROOT, Measured, nca_command, nca_connectivity_argv, run_measured

OUT = HERE / "out" / "floor"


def floor_main(paths: list[str], sample: str, size: int) -> int:
    """The floor process: parse every file with yaml_rs, write ``size`` bytes of ``sample``."""
    import yaml_rs

    files: list[str] = []
    for p in paths:
        files.extend(sorted(glob.glob(os.path.join(p, "**", "*.yaml"), recursive=True)) if os.path.isdir(p) else [p])
    docs = []
    for name in files:
        with open(name, encoding="utf-8") as fh:
            docs.append(yaml_rs.loads(fh.read(), parse_datetime=False))
    with open(sample, "rb") as fh:
        block = fh.read(1 << 18)  # 256 KiB: 1 MiB writes are slower and erratic here (large page-cache folios)
    out = sys.stdout.buffer
    left = size
    while left > 0:
        out.write(block[:left])
        left -= len(block)
    out.flush()
    return 0 if docs or not files else 1


def _digest(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 24):
            h.update(chunk)
    return h.hexdigest()[:16]


def _fresh_run(argv: list[str], stdout: Path, stderr: Path) -> Measured:
    """One measured run, after deleting its previous output and syncing the file system."""
    stdout.unlink(missing_ok=True)
    os.sync()
    return run_measured(argv, stdout, stderr)


def _generate(kind: str, pods: int, policies: int) -> Path:
    if kind == "project":
        target = OUT / f"project-{pods}.yaml"
        cmd = [sys.executable, str(HERE / "generate.py"), "--pods", str(pods), "--policies", str(policies),
               "-o", str(target)]
    else:
        target = OUT / f"other-{pods}"
        cmd = [sys.executable, str(HERE / "generate_other.py"), "--pods", str(pods), "--policies", str(policies),
               "-o", str(target)]
    if not target.exists():
        subprocess.run(cmd, check=True, stderr=subprocess.DEVNULL)
    return target


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="3000/300,10000/1000")
    ap.add_argument("--generators", default="project,other")
    ap.add_argument("--no-nca", action="store_true")
    ap.add_argument("--nca-max-pods", type=int, default=1000)
    ap.add_argument("--nca-timeout", type=float, default=900)
    ap.add_argument("--repeat", type=int, default=3,
                    help="keep the fastest of R runs of nphelpers and of the floor, taken in turns")
    ap.add_argument("--jobs", type=int, default=None,
                    help="nphelpers' -j (default: its own, NPHELPERS_JOBS or the CPUs)")
    ap.add_argument("--no-bytecode", action="store_true",
                    help="keep PYTHONDONTWRITEBYTECODE if set: every run compiles nphelpers' sources again")
    ap.add_argument("--floor", nargs="+", metavar="ARG", help=argparse.SUPPRESS)  # the floor process itself
    args = ap.parse_args(argv)
    if args.floor:
        *paths, sample, size = args.floor
        return floor_main(paths, sample, int(size))
    OUT.mkdir(parents=True, exist_ok=True)
    env_python = sys.executable
    os.environ["PYTHONPATH"] = str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")
    if not args.no_bytecode:
        # An installed package runs from compiled bytecode; with PYTHONDONTWRITEBYTECODE set
        # (as in some shells and CI jobs) every run would compile ~30 ms of sources again.
        os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
        subprocess.run([env_python, "-c", "import nphelpers.cli, nphelpers.matrix, nphelpers.manifests"], check=True)
    nca = nca_command(NCA_VENV)
    print("| generator | pods/policies | nphelpers s (CPU) | MiB | floor s (CPU) | MiB | ratio | -o classes s | MiB "
          "| classes output | nca s | nca MiB | json bytes | sha256 |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for kind in args.generators.split(","):
        for size in args.sizes.split(","):
            pods, policies = (int(x) for x in size.split("/"))
            target = _generate(kind, pods, policies)
            out, err = OUT / "nphelpers.json", OUT / "nphelpers.err"

            jobs = [] if args.jobs is None else ["-j", str(args.jobs)]
            np_argv = [env_python, "-m", "nphelpers", "matrix", "-f", str(target), "-o", "json", *jobs]
            np_run = _fresh_run(np_argv, out, err)  # its output sets the floor's size
            json_size = out.stat().st_size
            digest = _digest(out)
            sample = OUT / "sample.json"
            with out.open("rb") as fh:
                sample.write_bytes(fh.read(1 << 20))
            fl_argv = [env_python, str(Path(__file__).resolve()), "--floor", str(target), str(sample), str(json_size)]
            fl_run = _fresh_run(fl_argv, OUT / "floor.out", err)
            # Interleaved, each from the same state: no output file left, nothing dirty to
            # write back (a previous run's gigabyte would slow the next one's writes).
            for _ in range(args.repeat - 1):
                np_run = min(np_run, _fresh_run(np_argv, out, err), key=lambda run: run.wall_s)
                fl_run = min(fl_run, _fresh_run(fl_argv, OUT / "floor.out", err), key=lambda run: run.wall_s)
            (OUT / "floor.out").unlink()
            sample.unlink()
            cl_run = run_measured([env_python, "-m", "nphelpers", "matrix", "-f", str(target), "-o", "classes", *jobs],
                                  OUT / "classes.json", err)
            classes_size = (OUT / "classes.json").stat().st_size
            out.unlink()
            nca_text = "–"
            nca_mem = "–"
            if not args.no_nca and pods <= args.nca_max_pods:
                if nca.exists():
                    nca_out = OUT / "nca.txt"
                    nca_out.unlink(missing_ok=True)
                    m = run_measured(nca_connectivity_argv(nca, target, nca_out), OUT / "nca.log", OUT / "nca.err",
                                     timeout=args.nca_timeout)
                    nca_text = "timeout" if m.timed_out else f"{m.wall_s:.1f}" + ("" if m.ok else " (failed)")
                    nca_mem = f"{m.peak_rss_mib:.0f}"
                else:
                    nca_text = "not installed"
            ratio = np_run.wall_s / fl_run.wall_s
            print(f"| {kind} | {pods:,}/{policies:,} | {np_run.wall_s:.2f} ({np_run.cpu_s:.2f}) | "
                  f"{np_run.peak_rss_mib:.0f} | {fl_run.wall_s:.2f} ({fl_run.cpu_s:.2f}) | "
                  f"{fl_run.peak_rss_mib:.0f} | {ratio:.2f} | {cl_run.wall_s:.2f} | {cl_run.peak_rss_mib:.0f} | "
                  f"{classes_size / 2**20:.1f} MiB | {nca_text} | {nca_mem} | {json_size:,} | {digest} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
