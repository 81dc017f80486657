"""An optional accelerator for reading plain Kubernetes YAML: ``yaml_rs`` when installed.

:func:`nphelpers.manifests.parse_documents` reads YAML with PyYAML's meaning (YAML 1.1).
``yaml_rs`` (a Rust parser) reads a large manifest several times faster but follows
YAML 1.2 and is more lenient: it stops at a NUL byte without a word, accepts control
characters, ``%`` directives and line breaks PyYAML refuses. So :func:`fast_documents`
answers only when the answer is certainly PyYAML's, and returns None (the regular reader
decides, and reports errors with its line numbers) for:

* text with a character outside printable ASCII/Unicode as PyYAML accepts it, or with a
  tab, carriage return, NEL, line/paragraph separator or byte order mark inside;
* directives (a line starting with ``%``), tags (``!``), anchors and aliases (``&``, ``*``),
  merge keys (``<<``), backslashes (escapes differ between YAML 1.1 and 1.2), numbers
  written with a leading zero (``012``, ``0o17``, ``0x1F``);
* more than :data:`MAX_FAST_DOCUMENTS` document separators (the regular reader counts and
  caps documents as it goes, so memory stays bounded);
* a result holding a float, a huge integer, a non-string key, or a string PyYAML would
  have read as something else when written plain (``yes``, ``1:30``, ``2024-01-01``) and
  that YAML 1.2 reads as a string too;
* anything ``yaml_rs`` rejects.
"""

from __future__ import annotations

import re
from typing import Any

try:
    import yaml_rs
except ImportError:  # pragma: no cover - depends on the environment
    yaml_rs = None

MAX_FAST_DOCUMENTS = 100_000
# Characters outside this set make PyYAML refuse the text or read it differently (it takes
# NEL, LS and PS for line breaks); the fast path leaves such text to PyYAML.
_ODD_ASCII = re.compile(r"[^\n\x20-\x7e]")
_ODD_TEXT = re.compile("[^\n\x20-\x7e\xa0-\u2027\u202a-\ud7ff\ue000-\ufefe\uff00-\ufffd\U00010000-\U0010ffff]")
# A number written with a leading zero (``012``, ``0o17``, ``0x1F``, ``0b101``): octal or
# a string in YAML 1.1, decimal or octal in 1.2. Only a whole token counts (it starts
# after a space, a flow indicator or a line start and ends at a space, an indicator or a
# dot), so that names such as ``auth-08d362b25`` or a hash ``087908ba1`` do not.
_LEADING_ZERO = re.compile(r"(?:^|[\s\[{,:])[-+]?0(?:[0-9_]+|[oOxXbB][0-9a-fA-F_]*)(?=[\s,\]}:.#]|$)", re.M)
_DIRECTIVE = re.compile(r"^%", re.M)
_SENTINEL = "--- 0\n...\n"  # makes the result a list of documents even for one document
# Strings PyYAML's resolver would not leave as strings if written plain, but that are
# certainly strings here because YAML 1.2 would not have left them plain either: they
# were quoted in the text, so PyYAML reads them as strings too.
_QUOTED_ALIKE = frozenset(["", "~", "true", "True", "TRUE", "false", "False", "FALSE", "null", "Null", "NULL"])
_DECIMAL = re.compile(r"0|[1-9][0-9]{0,17}")
_INT_LIMIT = 1 << 63


def _resolvers() -> tuple[dict[str, list[tuple[str, re.Pattern[str]]]], frozenset[str]]:
    """PyYAML's implicit resolvers by first character; imported only when the fast path answers."""
    import yaml

    table = yaml.resolver.Resolver.yaml_implicit_resolvers
    return table, frozenset(c for c in table if c)


_TABLE: dict[str, list[tuple[str, re.Pattern[str]]]] | None = None
_FIRST: frozenset[str] = frozenset()


def fast_documents(text: str) -> list[Any] | None:
    """The documents of ``text`` as PyYAML reads them, or None when that is not certain."""
    counted = fast_documents_counted(text)
    return None if counted is None else counted[0]


def fast_documents_counted(text: str, max_nodes: int = 1 << 62) -> tuple[list[Any], int] | None:
    """The documents and their number of YAML nodes, or None (also when above ``max_nodes``)."""
    if yaml_rs is None or not _plain_text(text) or _nodes_at_most(text) > max_nodes:
        return None
    try:
        result = yaml_rs.loads(_SENTINEL + text, parse_datetime=False)
    except Exception:  # noqa: BLE001 - whatever it rejects, the regular reader judges and reports
        return None
    if type(result) is int:  # only the sentinel: no documents
        return [], 0
    if not (isinstance(result, list) and result and type(result[0]) is int):
        return None
    docs = result[1:]
    nodes = _plain(docs)
    return (docs, nodes - 1) if 0 <= nodes - 1 <= max_nodes else None


def _nodes_at_most(text: str) -> int:
    """An upper bound of the YAML nodes in alias-free text, so memory is bounded before parsing.

    Every node but a document's root follows a ``:`` (a key and its value), a ``-`` or
    ``,`` (an item), a ``[``, ``{`` or ``?``; roots follow ``---`` or the start.
    """
    count = text.count
    return 2 * count(":") + count("-") + count(",") + count("[") + count("{") + 2 * count("?") + 2


def _plain_text(text: str) -> bool:
    """True when nothing in the text itself could make yaml_rs and PyYAML differ."""
    odd = _ODD_ASCII if text.isascii() else _ODD_TEXT
    if odd.search(text) or "!" in text or "&" in text or "*" in text or "<<" in text or "\\" in text:
        return False
    if _DIRECTIVE.search(text) or _LEADING_ZERO.search(text):
        return False
    return text.count("---") <= MAX_FAST_DOCUMENTS


def _plain(value: Any) -> int:
    """The number of nodes in ``value``, or -1 when a scalar in it could mean something else to PyYAML."""
    global _TABLE, _FIRST
    if _TABLE is None:
        _TABLE, _FIRST = _resolvers()
    first = _FIRST
    stack = [value]
    nodes = 0
    while stack:
        item = stack.pop()
        nodes += 1
        kind = type(item)
        if kind is dict:
            for key, child in item.items():
                if type(key) is not str or (key[:1] in first and not _string_alike(key)) or not key:
                    return -1
                stack.append(child)
            nodes += len(item)  # the keys
        elif kind is list:
            stack.extend(item)
        elif kind is str:
            if (item[:1] in first or not item) and not _string_alike(item):
                return -1
        elif kind is int:
            if not -_INT_LIMIT < item < _INT_LIMIT:
                return -1
        elif kind is not bool and item is not None:
            return -1  # floats (1e3 is a string in YAML 1.1), anything else
    return nodes


def _string_alike(value: str) -> bool:
    """Whether PyYAML, too, reads ``value`` (a string in yaml_rs's answer) as a string."""
    assert _TABLE is not None
    for tag, regexp in _TABLE.get(value[:1], []) + _TABLE.get(None, []):  # type: ignore[call-overload]
        if regexp.match(value):
            return tag == "tag:yaml.org,2002:str" or value in _QUOTED_ALIKE or bool(_DECIMAL.fullmatch(value))
    return True
