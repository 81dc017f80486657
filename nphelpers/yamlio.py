"""An optional accelerator for reading plain Kubernetes YAML: ``yaml_rs`` when installed.

:func:`nphelpers.manifests.parse_documents` reads YAML with PyYAML's meaning (YAML 1.1).
``yaml_rs`` (a Rust parser) reads a large manifest several times faster, but it follows
YAML 1.2 and is more lenient: it stops at a NUL byte without a word, accepts control
characters, directives, odd flow syntax (``[a:]``, ``{a: :?}``) and explicit keys PyYAML
refuses, reads ``_1`` or ``0X1F`` as numbers and ``1:30`` as a string. So
:func:`fast_documents` answers only for text in a plain subset where its answer is
certainly PyYAML's, and returns None (the regular reader decides, and reports errors with
its line numbers) for anything else:

* a character that is not printable (``str.isprintable``: no control characters, tabs,
  carriage returns, NEL, line/paragraph separators, byte order marks, unassigned or
  private-use code points), newlines apart;
* flow collections other than the empty ``[]`` and ``{}`` (hand-written files use them;
  generated ones rarely do), explicit keys (``?``), block scalars (``|``, ``>``),
  directives (a line starting with ``%``), document end markers (``...``), tags (``!``),
  anchors and aliases (``&``, ``*``), merge keys (``<<``), backslashes;
* a whitespace-separated token (a key loses its ``:``) that YAML 1.1 or yaml_rs could read
  as something other than a string, unless both read it the same: ``yes``/``no``/``on``/
  ``off``, numbers other than plain decimals (``1.5``, ``1e3``, ``012``, ``0x1F``, ``1_000``,
  ``_1``, ``1:30``), dates; ``true``, ``null``, ``80`` agree and are fine;
* more than :data:`MAX_FAST_DOCUMENTS` document separators, more nodes than the caller
  allows by a bound read off the text, or nesting deeper than :data:`MAX_DEPTH` (the
  regular reader counts and caps documents, nodes and depth as it goes);
* anything ``yaml_rs`` rejects.

The tests compare this with PyYAML on random documents, mutated texts and tens of
thousands of odd tokens in every position.
"""

from __future__ import annotations

import re
from typing import Any

try:
    import yaml_rs
except ImportError:  # pragma: no cover - depends on the environment
    yaml_rs = None

MAX_FAST_DOCUMENTS = 100_000
MAX_DEPTH = 100  # nesting levels of a document (the regular reader refuses deeper ones)
_SENTINEL = "--- 0\n...\n"  # makes the result a list of documents even for one document

# Tokens either reader may take for a non-string (yaml_rs leniently: underscores anywhere,
# 0X/0O/0B prefixes, infinity spelled out), and words YAML 1.1 reads as booleans.
_NUMBER_LIKE = re.compile(
    r"[-+]?[_0-9]*(?:\.[_0-9]*)?(?:[eE][-+]?[_0-9]*[0-9][_0-9]*)?"  # decimal and float forms
    r"|[-+]?[_0]*0[_0]*(?:[xX][_0-9a-fA-F]*|[oO][_0-7]*|[bB][_01]*)"  # hexadecimal, octal, binary
    r"|[-+]?\.?(?:inf|Inf|INF|nan|NaN|NAN|infinity|Infinity|INFINITY)"
    r"|[-+]?[_0-9]+(?::[_0-9]*)+(?:\.[_0-9]*)?"  # base 60
    r"|[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}(?:[Tt].*)?"  # dates and times
)
_WORDS = frozenset(["yes", "Yes", "YES", "no", "No", "NO", "on", "On", "ON", "off", "Off", "OFF", "=", "<<"])
_AGREE = frozenset(["true", "True", "TRUE", "false", "False", "FALSE", "null", "Null", "NULL", "~"])
_DECIMAL = re.compile(r"[-+]?(?:0|[1-9][0-9]{0,17})")  # read alike by both (an int64)
_FIRST = frozenset("-+._0123456789xXoObBiInN:")  # how a number-like token (or an empty key) can start

# YAML 1.1's implicit types (yaml.org/type: bool, int, float, null, timestamp, merge, value)
# as one regex: a string matching it would not be a string to PyYAML if written plain.
# The tests check this table against PyYAML's own resolver.
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
    """The documents and an upper bound of their YAML nodes, or None (also when above ``max_nodes``)."""
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
    if not _shallow(text) and _too_deep(docs):
        return None
    return docs, nodes


def _plain_text(text: str) -> bool:
    """True when the text keeps to the subset where yaml_rs and PyYAML certainly agree."""
    # Printable as Unicode defines it is a subset of what PyYAML accepts without tabs, CR,
    # NEL, line/paragraph separators, byte order marks or unassigned code points. For ASCII
    # text, one translate deletes every allowed byte: anything left is refused.
    if text.isascii():
        if text.encode("ascii").translate(None, _ASCII_ALLOWED):
            return False
    elif not text.replace("\n", "").isprintable() or any(c in text for c in _REFUSED):
        return False
    if text.startswith(("%", "...")) or "\n%" in text or "\n..." in text:  # directives, document ends
        return False
    count = text.count
    for pair in ("[]", "{}"):  # flow collections beyond the empty ones
        if (pair[0] in text or pair[1] in text) and not count(pair[0]) == count(pair[1]) == count(pair):
            return False
    if len(text) > 3 * MAX_FAST_DOCUMENTS and count("---") > MAX_FAST_DOCUMENTS:
        return False
    # Whether a token is suspect depends on the token alone, and most lines and tokens repeat
    # from file to file (keys, kinds, images): only those not already found harmless are
    # looked at. The text is printable, so its only whitespace is spaces and newlines.
    lines = set(text.split("\n"))
    lines -= _HARMLESS_LINES
    new: set[str] = set()
    for line in lines:
        new.update(line.split())
    new -= _HARMLESS
    first, words = _FIRST, _WORDS
    for t in new:
        if (t[0] in first or t.rstrip(":") in words) and _suspect(t):
            return False
    if len(_HARMLESS) < _MAX_HARMLESS:
        _HARMLESS.update(new)
    if len(_HARMLESS_LINES) < _MAX_HARMLESS_LINES:
        _HARMLESS_LINES.update(line for line in lines if len(line) <= 120)
    return True


_REFUSED = "!&*<\\|>?"  # tags, anchors, aliases, merges, escapes, block scalars, explicit keys
_ASCII_ALLOWED = bytes(c for c in range(0x20, 0x7F) if chr(c) not in _REFUSED) + b"\n"
_HARMLESS: set[str] = set()  # tokens _plain_text found harmless, this process; bounded by _MAX_HARMLESS
_HARMLESS_LINES: set[str] = set()  # lines of at most 120 characters whose every token is harmless
_MAX_HARMLESS = 200_000  # (plus one text's tokens): a few MiB
_MAX_HARMLESS_LINES = 50_000


def _suspect(token: str) -> bool:
    """Whether a plain token might mean something else to PyYAML than to yaml_rs."""
    if token[0] == ":":  # an empty key (": a"), which yaml_rs accepts and PyYAML does not
        return True
    token = token.rstrip(":")  # a key
    if token in _WORDS:
        return True
    if token in _AGREE or _NUMBER_LIKE.fullmatch(token) is None or _DECIMAL.fullmatch(token):
        return False
    return any(c.isdigit() for c in token) or token.lstrip("-+.").lower() in ("inf", "nan", "infinity")


def _nodes_at_most(text: str) -> int:
    """An upper bound of the YAML nodes in block-style text without aliases.

    Every node but a document's root follows a ``:`` (a key and its value) or a ``-`` (an
    item) or is an empty ``[]``/``{}``; roots follow ``---`` or the start.
    """
    count = text.count
    return 2 * count(":") + count("-") + count("[]") + count("{}") + 2


def _shallow(text: str) -> bool:
    """True when block-style text cannot nest deeper than MAX_DEPTH: under 60 spaces of
    indentation and under 40 sequences opened on one line ("- - - ...")."""
    deep = " " * 60
    if text.startswith(deep) or "\n" + deep in text:
        return False
    return not (("- -" in text or "-  -" in text) and _COMPACT.search(text))


_COMPACT = re.compile(r"(?:-[ ]+){40}")


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
