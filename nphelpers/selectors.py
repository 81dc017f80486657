"""Label selectors (``matchLabels`` + ``matchExpressions``) as the apiserver defines them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .errors import UsageError

OPERATORS = ("In", "NotIn", "Exists", "DoesNotExist")


@dataclass(frozen=True)
class Requirement:
    """One ``matchExpressions`` entry: ``key operator values``."""

    key: str
    operator: str
    values: tuple[str, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        if self.operator == "In":
            return self.key in labels and labels[self.key] in self.values
        if self.operator == "NotIn":
            # A missing key satisfies NotIn, as in the apiserver's selector semantics.
            return self.key not in labels or labels[self.key] not in self.values
        if self.operator == "Exists":
            return self.key in labels
        return self.key not in labels  # DoesNotExist

    def __str__(self) -> str:
        if self.operator == "Exists":
            return self.key
        if self.operator == "DoesNotExist":
            return f"!{self.key}"
        op = "in" if self.operator == "In" else "notin"
        return f"{self.key} {op} ({','.join(self.values)})"


@dataclass(frozen=True)
class LabelSelector:
    """A selector: every ``matchLabels`` pair AND every requirement must hold.

    The empty selector (``{}``) selects everything.
    """

    match_labels: tuple[tuple[str, str], ...] = ()
    match_expressions: tuple[Requirement, ...] = field(default=())

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> LabelSelector:
        """Build from an already validated manifest dict (``None`` means ``{}``)."""
        data = data or {}
        labels = tuple(sorted((str(k), str(v)) for k, v in (data.get("matchLabels") or {}).items()))
        exprs = tuple(
            Requirement(str(e["key"]), str(e["operator"]), tuple(str(v) for v in e.get("values") or ()))
            for e in data.get("matchExpressions") or ()
        )
        return cls(labels, exprs)

    @classmethod
    def from_labels(cls, labels: Mapping[str, str]) -> LabelSelector:
        return cls(tuple(sorted(labels.items())))

    @property
    def is_empty(self) -> bool:
        return not self.match_labels and not self.match_expressions

    @property
    def keys(self) -> frozenset[str]:
        """Label keys this selector looks at."""
        return frozenset(k for k, _ in self.match_labels) | {r.key for r in self.match_expressions}

    def matches(self, labels: Mapping[str, str]) -> bool:
        for key, value in self.match_labels:
            if labels.get(key) != value:
                return False
        return all(r.matches(labels) for r in self.match_expressions)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.match_labels:
            out["matchLabels"] = dict(self.match_labels)
        if self.match_expressions:
            out["matchExpressions"] = [
                {"key": r.key, "operator": r.operator, **({"values": list(r.values)} if r.values else {})}
                for r in self.match_expressions
            ]
        return out

    def __str__(self) -> str:
        """kubectl's selector string: ``app=bookstore,role=api`` (``<none>`` when empty)."""
        parts = [f"{k}={v}" for k, v in self.match_labels] + [str(r) for r in self.match_expressions]
        return ",".join(parts) if parts else "<none>"


def parse_label_string(text: str) -> dict[str, str]:
    """Parse ``app=bookstore,role=api`` (kubectl ``--labels``) into a dict."""
    labels: dict[str, str] = {}
    for item in filter(None, (p.strip() for p in text.split(","))):
        key, sep, value = item.partition("=")
        if not sep:
            raise UsageError(f"label {item!r} is not of the form key=value")
        labels[key.strip()] = value.strip()
    return labels


def format_labels(labels: Mapping[str, str]) -> str:
    """Labels as ``kubectl get --show-labels`` prints them: sorted ``k=v`` or ``<none>``."""
    return ",".join(f"{k}={v}" for k, v in sorted(labels.items())) or "<none>"
