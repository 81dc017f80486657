"""Helpers shared by the benchmark scripts: running a child and measuring it, the nca venv, nca's output.

``network-config-analyzer`` (command ``nca``) lives in its own virtual environment,
``benchmarks/.nca-venv``, made on first use, so that its pinned dependencies never touch
the project's ``.venv``.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
NCA_VENV = HERE / ".nca-venv"
NCA_SPEC = "network-config-analyzer==2.1.0"


# -- measuring a child process -------------------------------------------------------------


@dataclass
class Measured:
    """One child process: its exit, wall-clock and CPU (user + system) seconds, peak resident memory."""

    argv: list[str]
    returncode: int | None  # None: killed at the timeout
    wall_s: float
    cpu_s: float
    peak_rss_mib: float
    stdout: Path
    stderr: Path
    load_before: float  # 1-minute load average when the child started: others' work skews wall time

    @property
    def timed_out(self) -> bool:
        return self.returncode is None

    @property
    def ok(self) -> bool:
        return self.returncode == 0


# The measured command is started by this small launcher, not by the benchmark process
# itself: a child forked from a big process inherits its resident pages until it execs,
# and Linux counts them in the child's ru_maxrss. The launcher is a fresh interpreter of a
# few MiB, so the rusage it reads with wait4 is the command's own.
_LAUNCHER = """
import json, os, sys, time
report, argv = sys.argv[1], sys.argv[2:]
start = time.perf_counter()
pid = os.fork()
if pid == 0:
    try:
        os.execvp(argv[0], argv)
    finally:
        os._exit(127)
_, status, ru = os.wait4(pid, 0)
wall = time.perf_counter() - start
with open(report, "w") as fh:
    json.dump({"wall_s": wall, "cpu_s": ru.ru_utime + ru.ru_stime, "maxrss_kib": ru.ru_maxrss}, fh)
code = os.waitstatus_to_exitcode(status)
sys.exit(code if code >= 0 else 128 - code)
"""


def run_measured(argv: Sequence[str], stdout: Path, stderr: Path, timeout: float | None = None,
                 cwd: Path | None = None) -> Measured:
    """Run ``argv`` with its output sent to files, and measure it.

    Wall time, CPU time and peak RSS are the command's own, read by a small launcher
    process with ``wait4`` (``RUSAGE_CHILDREN`` deltas say nothing about memory: it keeps a
    maximum over all children ever waited for). On ``timeout`` the whole process group is
    killed; the figures are then the benchmark's own wall time and no memory figure.
    """
    stdout.parent.mkdir(parents=True, exist_ok=True)
    report = stdout.with_name(stdout.name + ".rusage.json")
    report.unlink(missing_ok=True)
    load = os.getloadavg()[0]
    launcher = [sys.executable, "-I", "-c", _LAUNCHER, str(report), *argv]
    with stdout.open("wb") as out, stderr.open("wb") as err:
        start = time.perf_counter()
        proc = subprocess.Popen(launcher, stdout=out, stderr=err, stdin=subprocess.DEVNULL,
                                cwd=cwd, start_new_session=True)
        try:
            code: int | None = proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            code = None
        wall = time.perf_counter() - start
    if code is not None and report.exists():
        data = json.loads(report.read_text())
        report.unlink()
        return Measured(list(argv), code, data["wall_s"], data["cpu_s"], data["maxrss_kib"] / 1024,
                        stdout, stderr, load)
    return Measured(list(argv), code, wall, float("nan"), float("nan"), stdout, stderr, load)


# -- the nca venv ----------------------------------------------------------------------------


def nca_command(venv: Path = NCA_VENV) -> Path:
    return venv / "bin" / "nca"


def ensure_nca(venv: Path = NCA_VENV, spec: str = NCA_SPEC, python: str | None = None) -> Path:
    """The ``nca`` executable, installing ``spec`` into a fresh ``venv`` first when it is missing."""
    exe = nca_command(venv)
    if exe.exists():
        return exe
    py = python or sys.executable
    print(f"creating {venv} and installing {spec} (once)...", file=sys.stderr)
    subprocess.run([py, "-m", "venv", str(venv)], check=True)
    subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", spec], check=True)
    return exe


def nca_version(exe: Path) -> str:
    res = subprocess.run([str(exe), "--version"], capture_output=True, text=True, check=False)
    return (res.stdout + res.stderr).strip()


def nca_connectivity_argv(exe: Path, resources: Path, out_file: Path, fmt: str = "txt_no_fw_rules") -> list[str]:
    """nca's connectivity map of everything in ``resources`` (pods, namespaces and policies alike)."""
    return [str(exe), "--connectivity", "--resource_list", str(resources), "--output_format", fmt,
            "--file_out", str(out_file)]


_ENDPOINTS = re.compile(r"cluster has (\d+) unique endpoints, (\d+) namespaces")


def nca_endpoint_count(log_text: str) -> tuple[int, int] | None:
    """(endpoints, namespaces) from nca's ``global: cluster has N unique endpoints, K namespaces``."""
    m = _ENDPOINTS.search(log_text)
    return (int(m.group(1)), int(m.group(2))) if m else None


# -- nca's txt_no_fw_rules output ------------------------------------------------------------

_LINE = re.compile(r"^(?P<src>\S+) => (?P<dst>\S+) : (?P<conn>.*)$")
_CUBE = re.compile(r"\{([^{}]*)\}")
_DIM = re.compile(r",(?=[a-z_]+:)")
_POD = re.compile(r"^(?P<key>[^\[\]]+)\[Pod\]$")


def _port_in(ranges: str, port: int) -> bool:
    for part in ranges.split(","):
        part = part.strip()
        if not part:
            continue
        lo, _, hi = part.partition("-")
        if int(lo) <= port <= int(hi or lo):
            return True
    return False


def _cube_allows(body: str, port: int, protocol: str) -> bool:
    dims: dict[str, str] = {}
    for item in _DIM.split(body):
        key, _, value = item.partition(":")
        dims[key.strip()] = value.strip()
    if "protocols" in dims:
        protos = {p.strip().upper() for p in dims["protocols"].split(",")}
        if protocol.upper() not in protos:
            return False
    return "dst_ports" not in dims or _port_in(dims["dst_ports"], port)


def conn_allows(conn: str, port: int, protocol: str = "TCP") -> bool:
    """Whether an nca connection set such as ``{protocols:TCP, UDP,dst_ports:53}`` admits ``port``/``protocol``."""
    conn = conn.strip()
    if conn == "All connections":
        return True
    if conn == "No connections":
        return False
    if conn.startswith("All but "):
        return not conn_allows(conn[len("All but "):], port, protocol)
    cubes = _CUBE.findall(conn)
    if not cubes:
        raise ValueError(f"unrecognised nca connection set: {conn!r}")
    return any(_cube_allows(c, port, protocol) for c in cubes)


@dataclass(frozen=True)
class NcaEdge:
    src: str
    dst: str
    conn: str


def parse_nca_txt(text: str) -> Iterator[NcaEdge]:
    """Pod-to-pod lines of ``--output_format txt_no_fw_rules`` (IP ranges are skipped), as ``ns/name`` keys.

    One pair may come on several lines, each with a part of its connection set.
    """
    for line in text.splitlines():
        m = _LINE.match(line.strip())
        if not m:
            continue
        src, dst = _POD.match(m["src"]), _POD.match(m["dst"])
        if src and dst:
            yield NcaEdge(src["key"], dst["key"], m["conn"])


def nca_allowed_pairs(text: str, port: int, protocol: str = "TCP") -> set[tuple[str, str]]:
    """Pairs with at least one line admitting ``port``/``protocol``."""
    return {(e.src, e.dst) for e in parse_nca_txt(text) if conn_allows(e.conn, port, protocol)}


def project_python() -> str:
    """The project venv's interpreter if there is one, else this one."""
    venv_py = ROOT / ".venv" / "bin" / "python"
    return str(venv_py) if venv_py.exists() else sys.executable
