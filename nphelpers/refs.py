"""``ns/name``: how every verb, table and explanation names a namespaced object.

One rule decides where a name without a namespace lives, everywhere in nphelpers:

* ``web`` is in the *home* namespace of whoever resolves it (the lab's ``namespace=``, the
  CLI's ``default``), exactly as ``kubectl`` puts it in the context's namespace;
* ``prod/web`` (or a manifest's ``metadata.namespace: prod``) is in ``prod`` — and
  ``default/web`` in ``default``, a name like any other.

Names here are the *lesson's* names. A backend that keeps lesson namespaces elsewhere (the
live backend puts lesson ``default`` into its own lab namespace) maps them inside itself and
reports lesson names back, so this rule is the same on every backend.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .errors import UsageError


@dataclass(frozen=True, order=True)
class Ref:
    """A namespaced object's address: ``Ref("prod", "web")``, printed ``prod/web``.

    Ordered by namespace, then name: sorting refs groups them by namespace, as the
    apiserver's storage keys (``.../<namespace>/<name>``) do.
    """

    namespace: str
    name: str

    @classmethod
    def parse(cls, text: str | Ref, home: str, *, what: str = "name") -> Ref:
        """``web`` (in ``home``) or ``prod/web``; a :class:`UsageError` for anything else."""
        if isinstance(text, Ref):
            return text
        if not isinstance(text, str):
            raise UsageError(f"{what} must be a string like 'web' or 'prod/web', not {type(text).__name__}")
        ns, slash, name = text.strip().rpartition("/")
        if slash and (not ns or "/" in ns):
            raise UsageError(f"{what} {text!r} is not of the form NAME or NAMESPACE/NAME")
        if not name:
            raise UsageError(f"{what} {text!r} has no name: write NAME or NAMESPACE/NAME")
        return cls(ns if slash else home, name)

    @classmethod
    def of(cls, obj: Mapping[str, Any], home: str) -> Ref:
        """Where a manifest dict lives: its ``metadata.namespace``, else ``home``."""
        meta = obj.get("metadata") or {}
        return cls(str(meta.get("namespace") or home), str(meta.get("name") or ""))

    @property
    def key(self) -> str:
        """``ns/name``: the key of :class:`~nphelpers.cluster.ClusterState`'s tables."""
        return f"{self.namespace}/{self.name}"

    def __str__(self) -> str:
        return self.key


def namespace_of_key(key: str) -> str:
    """The namespace part of a ``ns/name`` key."""
    return key.partition("/")[0]
