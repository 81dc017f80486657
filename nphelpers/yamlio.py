"""An optional accelerator for reading plain Kubernetes YAML: ``yaml_rs`` when installed.

:func:`nphelpers.manifests.parse_documents` reads YAML with PyYAML's meaning (YAML 1.1).
``yaml_rs`` (a Rust parser) reads a large manifest several times faster but follows
YAML 1.2, which differs on a few plain scalars. :func:`fast_documents` answers only when
the answer is certainly PyYAML's: it gives up (returns None) on text with merge keys,
tags or leading-zero numbers, on any float, on strings that PyYAML would have read as
booleans, dates or sexagesimal numbers, and on anything ``yaml_rs`` rejects (errors are
always reported by the regular reader, with its line numbers).
"""

from __future__ import annotations

import re
from typing import Any

try:
    import yaml_rs
except ImportError:  # pragma: no cover - depends on the environment
    yaml_rs = None

# Strings PyYAML would not have left as strings when written plain.
_BOOLS = frozenset(["yes", "Yes", "YES", "no", "No", "NO", "on", "On", "ON", "off", "Off", "OFF"])
_NUMERIC = re.compile(r"[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?|[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}.*")
_LEADING_ZERO = re.compile(r"[ \-\[,:]0[0-9a-zA-Z_]")
_SENTINEL = "--- 0\n...\n"  # makes the result a list of documents even for one document


def fast_documents(text: str) -> list[Any] | None:
    """The documents of ``text`` as PyYAML reads them, or None when that is not certain."""
    if yaml_rs is None or "<<" in text or "!" in text or _LEADING_ZERO.search(text):
        return None
    try:
        result = yaml_rs.loads(_SENTINEL + text, parse_datetime=False)
    except Exception:  # noqa: BLE001 - whatever it rejects, the regular reader judges and reports
        return None
    if type(result) is int:  # only the sentinel: no documents
        return []
    if not (isinstance(result, list) and result and type(result[0]) is int):
        return None
    docs = result[1:]
    return docs if _plain(docs) else None


def _plain(value: Any) -> bool:
    """True when no scalar in ``value`` could mean something else to PyYAML."""
    stack = [value]
    while stack:
        item = stack.pop()
        kind = type(item)
        if kind is dict:
            for key, child in item.items():
                if type(key) is not str or key in _BOOLS or (key[:1].isdigit() and _NUMERIC.fullmatch(key)):
                    return False
                stack.append(child)
        elif kind is list:
            stack.extend(item)
        elif kind is str:
            if item in _BOOLS or (item[:1].isdigit() and _NUMERIC.fullmatch(item)):
                return False
        elif kind is float:
            return False
    return True
