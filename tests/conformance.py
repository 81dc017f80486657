"""The shared upstream conformance cases: the default 9-pod model and a step runner."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml

from nphelpers.cluster import ClusterState

NAMESPACES = ("x", "y", "z")
PODS = ("a", "b", "c")


def cases_dir() -> Path | None:
    """``$NPHELPERS_CONFORMANCE`` or ``../shared/conformance/cases`` next to the checkout."""
    env = os.environ.get("NPHELPERS_CONFORMANCE")
    here = Path(__file__).resolve().parent.parent
    for candidate in ([Path(env)] if env else []) + [here.parent / "shared" / "conformance" / "cases",
                                                     here / "tests" / "data" / "conformance"]:
        if candidate.is_dir() and any(candidate.glob("*.yaml")):
            return candidate
    return None


def default_model(pod_ips: dict[str, str] | None = None) -> ClusterState:
    """Namespaces x, y, z; pods a, b, c in each serving 80/81 on TCP, UDP and SCTP."""
    objects: list[dict[str, Any]] = []
    for ns in NAMESPACES:
        objects.append({"apiVersion": "v1", "kind": "Namespace",
                        "metadata": {"name": ns, "labels": {"ns": ns}}})
    for ns in NAMESPACES:
        for pod in PODS:
            containers = [
                {"name": f"cont-{port}-{proto.lower()}", "image": "agnhost",
                 "ports": [{"containerPort": port, "protocol": proto, "name": f"serve-{port}-{proto.lower()}"}]}
                for port in (80, 81) for proto in ("TCP", "UDP", "SCTP")
            ]
            obj: dict[str, Any] = {"apiVersion": "v1", "kind": "Pod",
                                   "metadata": {"name": pod, "namespace": ns, "labels": {"pod": pod}},
                                   "spec": {"containers": containers}}
            if pod_ips:
                obj["status"] = {"podIP": pod_ips[f"{ns}/{pod}"]}
            objects.append(obj)
    return ClusterState.from_objects(objects)


def parse_table(text: str) -> dict[tuple[str, str], bool]:
    lines = [line.split() for line in text.strip().splitlines()]
    header = lines[0][1:]
    return {(row[0], dst): cell == "." for row in lines[1:] for dst, cell in zip(header, row[1:], strict=True)}


def load_case(path: Path) -> dict[str, Any]:
    with open(path) as fh:
        return yaml.safe_load(fh)
