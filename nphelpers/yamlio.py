"""An optional accelerator for reading plain Kubernetes YAML: ``yaml_rs`` when installed.

:func:`nphelpers.manifests.parse_documents` reads YAML with PyYAML's meaning (YAML 1.1).
``yaml_rs`` (a Rust parser) reads a large manifest several times faster but follows
YAML 1.2 and is more lenient: it stops at a NUL byte without a word, accepts control
characters, ``%`` directives and line breaks PyYAML refuses. So :func:`fast_documents`
answers only when the answer is certainly PyYAML's, and returns None (the regular reader
decides, and reports errors with its line numbers) for:

* text with a character outside printable ASCII/Unicode as PyYAML accepts it, or with a
  tab, carriage return, NEL, line/paragraph separator or byte order mark inside;
* directives (a line starting with ``%``), document end markers (``...``), tags (``!``),
  anchors and aliases (``&``, ``*``), merge keys (``<<``), backslashes (escapes differ
  between YAML 1.1 and 1.2), numbers written with a leading zero (``012``, ``0o17``, ``0x1F``);
* more than :data:`MAX_FAST_DOCUMENTS` document separators, or more nodes than the caller
  allows by a bound read off the text before parsing (the regular reader counts and caps
  documents, nodes and depth as it goes, so time and memory stay bounded);
* a result nested deeper than :data:`MAX_DEPTH`, holding a float, a huge integer, a
  non-string key, or a string PyYAML would
  have read as something else when written plain (``yes``, ``1:30``, ``2024-01-01``) and
  that YAML 1.2 reads as a string too;
* anything ``yaml_rs`` rejects.
"""

from __future__ import annotations

import json
import re
from typing import Any

try:
    import yaml_rs
except ImportError:  # pragma: no cover - depends on the environment
    yaml_rs = None

MAX_FAST_DOCUMENTS = 100_000
MAX_DEPTH = 100  # nesting levels of a document (the regular reader refuses deeper ones)
# Characters outside this set make PyYAML refuse the text or read it differently (it takes
# NEL, LS and PS for line breaks); the fast path leaves such text to PyYAML.
_ODD_ASCII = re.compile(r"[^\n\x20-\x7e]")
_ODD_TEXT = re.compile("[^\n\x20-\x7e\xa0-\u2027\u202a-\ud7ff\ue000-\ufefe\uff00-\ufffd\U00010000-\U0010ffff]")
# A number written with a leading zero (``012``, ``0o17``, ``0x1F``, ``0b101``): octal or
# a string in YAML 1.1, decimal or octal in 1.2. Only a whole token counts (it starts
# after a space, a flow indicator or a line start and ends at a space, an indicator or a
# dot), so that names such as ``auth-08d362b25`` or a hash ``087908ba1`` do not.
_LEADING_ZERO = re.compile(r"[-+]?0(?:[0-9_]+|[oOxXbB][0-9a-fA-F_]*)(?=[\s,\]}:.#]|$)")
_ZERO_CANDIDATE = re.compile(r"0[0-9_oOxXbB]")  # a literal first character: a fast scan
_SENTINEL = "--- 0\n...\n"  # makes the result a list of documents even for one document
# Strings PyYAML's resolver would not leave as strings if written plain, but that are
# certainly strings here because YAML 1.2 would not have left them plain either: they
# were quoted in the text, so PyYAML reads them as strings too.
_QUOTED_ALIKE = frozenset(["", "~", "true", "True", "TRUE", "false", "False", "FALSE", "null", "Null", "NULL"])
_DECIMAL = re.compile(r"0|[1-9][0-9]{0,17}")


# YAML 1.1's implicit types (yaml.org/type: bool, int, float, null, timestamp, merge, value)
# as regexes, so that the fast path need not import PyYAML. A string matching one of them
# would not be a string to PyYAML if written plain; tests check this table against PyYAML's.
_YAML11_NOT_STR = re.compile(
    r"(?:yes|Yes|YES|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF"  # bool
    r"|[-+]?0b[01_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+"  # int
    r"|[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+"  # int, base 60
    r"|[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?|\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?"  # float
    r"|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN)"  # float
    r"|~|null|Null|NULL|"  # null
    r"|[0-9]{4}-[0-9]{2}-[0-9]{2}"  # timestamp
    r"|[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}(?:[Tt]|[ \t]+)[0-9]{1,2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]*)?"
    r"(?:[ \t]*(?:Z|[-+][0-9]{1,2}(?::[0-9]{2})?))?"
    r"|<<|=)"  # merge, value
)


def fast_documents(text: str) -> list[Any] | None:
    """The documents of ``text`` as PyYAML reads them, or None when that is not certain."""
    counted = fast_documents_counted(text)
    return None if counted is None else counted[0]


def fast_documents_counted(text: str, max_nodes: int = 1 << 62) -> tuple[list[Any], int] | None:
    """The documents and (an upper bound of) their YAML nodes, or None (also when above ``max_nodes``)."""
    if yaml_rs is None or not _plain_text(text):
        return None
    nodes = _nodes_at_most(text)
    if nodes > max_nodes:
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
    return (docs, nodes) if _same_meaning(docs, text) else None


def _same_meaning(docs: list[Any], text: str) -> bool:
    """Whether PyYAML would build exactly ``docs`` (yaml_rs's answer) from ``text``.

    The scalars are checked on the documents' JSON text (a few passes in C instead of a
    Python walk over every node): outside the strings no float (a ``.``, ``e+``/``e-``,
    ``Infinity``, ``NaN``: floats are the only JSON values holding them), and no string
    that YAML 1.1 reads as something else. (Integers need no check: yaml_rs refuses one
    beyond Python's 4,300-digit limit, as the regular reader does.) Depth is checked on the text when
    it is plainly shallow, else by a walk over the collections.
    """
    if not _shallow(text) and _too_deep(docs):
        return False
    try:
        js = json.dumps(docs, check_circular=False)
    except (TypeError, ValueError, RecursionError):  # a key JSON cannot hold (a list), or very deep
        return False
    if '\\"' in js:  # a string holding a quote: rare, and it would confuse the split below
        return False
    pieces = js.split('"')  # odd pieces: the strings (keys too); even ones: the rest
    rest = "".join(pieces[0::2])
    if "." in rest or "e+" in rest or "e-" in rest or "Infinity" in rest or "NaN" in rest:  # a float
        return False
    first = _FIRST
    return all(_string_alike(s) for s in set(pieces[1::2]) if not s or s[0] in first)


_FIRST = frozenset("yYnNtTfFoO-+0123456789.~<=")  # first characters of YAML 1.1's non-strings
_COMPACT = re.compile(r"(?:-[ \t]+){10}")  # ten sequences opened on one line: "- - - ..."


def _shallow(text: str) -> bool:
    """True when the text cannot nest deeper than MAX_DEPTH: under 60 spaces of indentation,
    under 10 compact sequences a line, under 30 flow collections that are not empty."""
    deep = " " * 60
    if text.startswith(deep) or "\n" + deep in text:
        return False
    if ("- -" in text or "-  -" in text) and _COMPACT.search(text):
        return False
    count = text.count
    return count("[") - count("[]") + count("{") - count("{}") < 30


def _too_deep(docs: list[Any]) -> bool:
    """A walk over the collections only: whether one is nested deeper than MAX_DEPTH."""
    stack: list[tuple[Any, int]] = [(d, 1) for d in docs if type(d) is dict or type(d) is list]
    while stack:
        item, depth = stack.pop()
        if depth > MAX_DEPTH:
            return True
        for child in item.values() if type(item) is dict else item:
            if type(child) is dict or type(child) is list:
                stack.append((child, depth + 1))
    return False


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
    if text.startswith(("%", "...")) or "\n%" in text or "\n..." in text:  # directives, document ends
        return False
    if _leading_zero(text):
        return False
    return text.count("---") <= MAX_FAST_DOCUMENTS


def _leading_zero(text: str) -> bool:
    """Whether a token of ``text`` is a number written with a leading zero (see _LEADING_ZERO)."""
    for match in _ZERO_CANDIDATE.finditer(text):
        at = match.start()
        start = at - 1 if at and text[at - 1] in "-+" else at
        if (start == 0 or text[start - 1] in " \t\n[{,:") and _LEADING_ZERO.match(text, start):
            return True
    return False


def _string_alike(value: str) -> bool:
    """Whether PyYAML, too, reads ``value`` (a string in yaml_rs's answer) as a string."""
    if _YAML11_NOT_STR.fullmatch(value):
        return value in _QUOTED_ALIKE or bool(_DECIMAL.fullmatch(value))
    return True
