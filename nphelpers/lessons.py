"""Ready-made lesson clusters, for tests, benchmarks and a teacher who wants to start mid-lesson."""

from __future__ import annotations

from importlib import resources
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .lab import Lab


def api_allow_yaml() -> str:
    """The lesson's ``api-allow`` NetworkPolicy, exactly as the recipe writes it."""
    return resources.files("nphelpers").joinpath("data/api-allow.yaml").read_text(encoding="utf-8")


def deploy_lesson_02(lab: Lab, *, policy: bool = True, extra_clients: int = 0) -> None:
    """Lesson 02 after its tasks 1 and 2: the ``apiserver`` (nginx, ``app=bookstore,role=api``,
    a Service on port 80), the clients ``test-blocked`` (``app=other``) and ``test-allowed``
    (``app=bookstore,role=frontend``), ``extra_clients`` more clients, and ``api-allow``.
    """
    lab.run("apiserver", "nginx", labels="app=bookstore,role=api", port=80, expose=True)
    lab.run("test-blocked", "alpine", labels="app=other")
    lab.run("test-allowed", "alpine", labels="app=bookstore,role=frontend")
    for i in range(extra_clients):
        lab.run(f"client-{i}", "alpine", labels="app=other" if i % 2 else "app=bookstore")
    if policy:
        lab.apply(api_allow_yaml())
