"""nphelpers: Kubernetes NetworkPolicy lessons, an exact simulator and a live kind backend.

``from nphelpers import Lab`` is all a notebook needs. Heavy modules (pandas,
matplotlib, ipywidgets, the kubernetes client) load only when used.
"""

from __future__ import annotations

from typing import Any

from .errors import show_errors_in_one_line

__version__ = "0.1.0"
__all__ = ["Lab", "ClusterState", "evaluate", "reachability", "load_paths", "load_text", "__version__"]

_EXPORTS = {
    "Lab": ("nphelpers.lab", "Lab"),
    "ClusterState": ("nphelpers.cluster", "ClusterState"),
    "evaluate": ("nphelpers.engine", "evaluate"),
    "reachability": ("nphelpers.matrix", "reachability"),
    "load_paths": ("nphelpers.manifests", "load_paths"),
    "load_text": ("nphelpers.manifests", "load_text"),
}


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        import importlib

        module, attr = _EXPORTS[name]
        return getattr(importlib.import_module(module), attr)
    raise AttributeError(f"module 'nphelpers' has no attribute {name!r}")


show_errors_in_one_line()  # inside IPython: a mistake is one line from the very first cell
