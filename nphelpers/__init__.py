"""nphelpers: Kubernetes NetworkPolicy lessons, an exact simulator and a live kind backend."""

from __future__ import annotations

__version__ = "0.1.0"
