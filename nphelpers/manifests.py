"""Load Kubernetes manifests from files, directories or text, validated as one batch.

What is read:

* files and directories (every ``*.yaml``/``*.yml`` below a directory, recursively, in
  sorted order so that results never depend on the file system), multi-document YAML
  (documents numbered from 1 in each file; empty documents are skipped but counted), and
  ``kind: List`` (its ``items``; errors in an item say ``items[2].``);
* ``Namespace``, ``Pod``, ``Service`` and ``NetworkPolicy`` objects, validated as the
  apiserver would (:mod:`nphelpers.validation`) and returned as the plain dicts read;
* workloads, expanded into the pods a controller would create, because pods are what
  NetworkPolicies select: a ``Deployment``, ``ReplicaSet`` or ``StatefulSet`` gives
  ``spec.replicas`` pods (default 1, 0 allowed) named ``<name>-0`` .. ``<name>-<n-1>``;
  a ``DaemonSet`` gives one pod ``<name>-0`` (the simulated cluster has a single node).
  Each pod has the template's labels and pod spec and the workload's namespace. (Real
  pod names carry random hashes; stable names keep lessons and their answers repeatable.)
* any other kind is skipped with a note (``LoadResult.notes``), not an error: a lesson's
  file may well contain ConfigMaps or RBAC objects.

The whole batch is checked before anything is returned: the first problem raises a
:class:`~nphelpers.errors.ManifestError` naming the file, the document and the field
(``api-allow.yaml: document 1: spec.ingress[0]...``), and so does an object defined twice
(same kind, namespace and name). Objects without ``metadata.namespace`` are returned
without one (the cluster applies its default); ``namespace`` is only used to tell whether
two such objects collide. Input dicts are never changed.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from .errors import ManifestError
from .validation import KINDS, WORKLOAD_KINDS, _type_name, validate_object, validate_workload
from .yamlio import fast_documents

__all__ = ["LoadResult", "load_paths", "load_text", "load_objects", "expand_workload", "parse_documents"]

# libyaml's loader is many times faster than the pure Python one; fall back when missing.
_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_SUFFIXES = (".yaml", ".yml")


@dataclass(frozen=True)
class LoadResult:
    """What a batch of manifests holds for the simulator."""

    objects: list[dict] = field(default_factory=list)  # Namespace/Pod/Service/NetworkPolicy, in file order
    notes: list[str] = field(default_factory=list)  # one line per skipped document or item


def load_paths(paths: Iterable[str | os.PathLike[str]], namespace: str = "default") -> LoadResult:
    """Load files and directories (recursively: ``*.yaml``, ``*.yml``), in the order given."""
    if isinstance(paths, (str, os.PathLike)):  # one path, not an iterable of characters
        paths = [paths]
    batch = _Batch(namespace)
    for source, text in _read_all(paths):
        batch.add_text(text, source)
    return batch.result()


def load_text(text: str, source: str = "<string>", namespace: str = "default") -> LoadResult:
    """Load YAML text (one or more documents); ``source`` names it in errors and notes."""
    batch = _Batch(namespace)
    batch.add_text(text, source)
    return batch.result()


def load_objects(
    objects: Iterable[Any], source: str = "<objects>", namespace: str = "default"
) -> LoadResult:
    """Load already parsed documents (dicts, e.g. built in a notebook); each counts as a document."""
    batch = _Batch(namespace)
    for number, doc in enumerate(objects, start=1):
        batch.add_document(doc, source, number)
    return batch.result()


def expand_workload(obj: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The pods a validated workload stands for (see the module docstring)."""
    meta = obj["metadata"]
    spec = obj.get("spec") or {}
    template = spec["template"]
    tmeta = template.get("metadata") or {}
    count = 1 if obj["kind"] == "DaemonSet" else spec.get("replicas", 1)
    if count is None:
        count = 1
    pod_spec = template["spec"]  # shared, not copied: the returned dicts are read-only by contract
    labels = tmeta.get("labels")
    namespace = meta.get("namespace")
    pods = []
    for i in range(count):
        pod_meta: dict[str, Any] = {"name": f"{meta['name']}-{i}"}
        if namespace:
            pod_meta["namespace"] = namespace
        if labels:
            pod_meta["labels"] = dict(labels)
        pods.append({"apiVersion": "v1", "kind": "Pod", "metadata": pod_meta, "spec": pod_spec})
    return pods


# -- reading files --------------------------------------------------------------------
def _read_all(paths: Iterable[str | os.PathLike[str]]) -> Iterable[tuple[str, str]]:
    """(source name, text) for every file, directories expanded in sorted order."""
    for given in paths:
        name = os.fspath(given)
        if os.path.isdir(name):
            for file_name in _walk(name):
                yield file_name, _read(file_name)
        else:
            yield name, _read(name)


def _walk(directory: str) -> list[str]:
    """Manifest files below ``directory``, named by joining onto the path as given."""
    found: list[str] = []
    for root, dirs, files in os.walk(directory):
        dirs.sort()
        found.extend(os.path.join(root, f) for f in files if f.endswith(_SUFFIXES))
    # os.walk visits a directory's files before its subdirectories; sort on path parts so
    # that "a/b.yaml" and "a.yaml" order the same way on every machine.
    return sorted(found, key=lambda p: os.path.relpath(p, directory).split(os.sep))


def _read(name: str) -> str:
    try:
        with open(name, encoding="utf-8-sig") as handle:  # tolerate a byte order mark
            return handle.read()
    except FileNotFoundError:
        raise ManifestError("no such file or directory", source=name) from None
    except PermissionError:
        raise ManifestError("permission denied", source=name) from None
    except UnicodeDecodeError as err:
        raise ManifestError(f"not UTF-8 text (byte {err.start})", source=name) from None
    except OSError as err:
        raise ManifestError((err.strerror or str(err)).lower(), source=name) from None


# -- one batch ------------------------------------------------------------------------
class _Batch:
    """Documents seen so far: the objects kept, notes, and where each object was defined."""

    def __init__(self, namespace: str) -> None:
        self.namespace = namespace
        self.objects: list[dict] = []
        self.notes: list[str] = []
        self.seen: dict[tuple[str, str, str], str] = {}

    def result(self) -> LoadResult:
        return LoadResult(self.objects, self.notes)

    def add_text(self, text: str, source: str) -> None:
        for number, doc in enumerate(parse_documents(text, source), start=1):
            if doc is not None:  # an empty document is counted but holds nothing
                self.add_document(doc, source, number)

    def add_document(self, doc: Any, source: str, number: int) -> None:
        try:
            self._add(doc, source, number, "")
        except ManifestError as err:
            if err.source is None:
                raise err.at(source, number) from None
            raise

    def _add(self, doc: Any, source: str, number: int, prefix: str) -> None:
        """Validate and keep one object (``prefix`` is ``items[i].`` inside a List)."""
        if not isinstance(doc, Mapping):
            raise ManifestError(
                f"expected a mapping (a Kubernetes object with apiVersion and kind), got {_type_name(doc)}",
                field=prefix.rstrip(".") or None,
            )
        kind = doc.get("kind")
        if kind is None or kind == "":
            raise ManifestError("required value: kind not set", field=prefix + "kind")
        if not isinstance(kind, str):
            raise ManifestError(f"invalid type: expected a string, got {_type_name(kind)}", field=prefix + "kind")
        if kind == "List" or (kind.endswith("List") and "items" in doc):
            items = doc.get("items")
            if items is None:
                items = []
            if not isinstance(items, list):
                raise ManifestError(f"invalid type: expected a list, got {_type_name(items)}", field=prefix + "items")
            for i, item in enumerate(items):
                self._add(item, source, number, f"{prefix}items[{i}].")
            return
        if kind in KINDS:
            self._validate(validate_object, doc, prefix)
            self._keep(doc, source, number, prefix)
        elif kind in WORKLOAD_KINDS:
            self._validate(validate_workload, doc, prefix)
            made_by = f"{kind} {doc['metadata']['name']}"
            pods = expand_workload(doc)
            if not pods:
                self.notes.append(f"{self._where(source, number, prefix)}{made_by} has 0 replicas: no pods")
            for pod in pods:
                self._check_generated_name(pod, prefix)
                self._keep(pod, source, number, prefix, made_by=made_by)
        else:
            self.notes.append(f"{self._where(source, number, prefix)}skipped kind {kind} (not used by NetworkPolicy)")

    @staticmethod
    def _where(source: str, number: int, prefix: str) -> str:
        """``deploy.yaml: document 3: `` (and ``items[1]: `` inside a List), to start a note."""
        return f"{source}: document {number}: " + (f"{prefix.rstrip('.')}: " if prefix else "")

    @staticmethod
    def _validate(check: Any, doc: Mapping[str, Any], prefix: str) -> None:
        try:
            check(doc)
        except ManifestError as err:
            raise (err.under(prefix.rstrip(".")) if prefix else err) from None

    @staticmethod
    def _check_generated_name(pod: Mapping[str, Any], prefix: str) -> None:
        name = pod["metadata"]["name"]
        if len(name) > 253:
            raise ManifestError(
                f"too long: its pods' names ({name[:12]}...) would be longer than 253 characters",
                field=prefix + "metadata.name",
            )

    def _keep(self, obj: dict, source: str, number: int, prefix: str, made_by: str | None = None) -> None:
        meta = obj["metadata"]
        kind = obj["kind"]
        namespace = "" if kind == "Namespace" else meta.get("namespace") or self.namespace
        key = (kind, namespace, meta["name"])
        place = f"{source}: document {number}" + (f": {prefix.rstrip('.')}" if prefix else "")
        if made_by:
            place += f" ({made_by})"
        first = self.seen.get(key)
        if first is not None:
            shown = f"{namespace}/{meta['name']}" if namespace else meta["name"]
            raise ManifestError(
                f'duplicate {kind} "{shown}"' + (f" (made by {made_by})" if made_by else "")
                + f": already defined at {first}",
                field=prefix + "metadata.name",
            )
        self.seen[key] = place
        self.objects.append(obj)


# -- YAML --------------------------------------------------------------------------------
def parse_documents(text: str, source: str = "<string>") -> list[Any]:
    """Every document of ``text`` (``None`` for an empty one), as ``yaml.safe_load_all`` gives them.

    A syntax error raises :class:`ManifestError` naming ``source``, the document and the
    line. Most manifests are read by a fast builder working on libyaml's parser events
    (PyYAML's own constructor costs several times more than the parsing); it also refuses
    a key given twice in one mapping, as kubectl does. YAML it does not handle (explicit
    collection tags such as ``!!set``) is read again by PyYAML's safe loader.
    """
    docs = fast_documents(text)
    if docs is not None:
        return docs
    try:
        return _fast_documents(text)
    except _Unusual:
        pass
    except _YamlProblem as problem:
        raise ManifestError(problem.message, source=source, document=problem.document) from None
    docs: list[Any] = []
    stream = yaml.load_all(text, Loader=_LOADER)
    while True:
        try:
            docs.append(next(stream))
        except StopIteration:
            return docs
        except yaml.YAMLError as err:
            raise ManifestError(_yaml_message(err), source=source, document=len(docs) + 1) from None


class _Unusual(Exception):
    """YAML outside what the fast builder handles: use PyYAML's constructor instead."""


class _YamlProblem(Exception):
    def __init__(self, message: str, document: int) -> None:
        super().__init__(message)
        self.message = message
        self.document = document


_RESOLVERS = yaml.resolver.Resolver.yaml_implicit_resolvers  # first character -> [(tag, regex)]
_WILDCARD_RESOLVERS = _RESOLVERS.get(None, [])
_CONSTRUCTOR = yaml.constructor.SafeConstructor()
_STR = "tag:yaml.org,2002:str"
_MERGE = "tag:yaml.org,2002:merge"
_MAP_TAGS = (None, "!", "tag:yaml.org,2002:map")
_SEQ_TAGS = (None, "!", "tag:yaml.org,2002:seq")
_MERGE_KEY = object()  # a `<<` key
_NO_KEY = object()  # a mapping waiting for its next key
_IN_SEQUENCE = object()  # marks a sequence's frame (None is a valid YAML key)


def _resolve(value: str) -> str | None:
    """The implicit tag of a plain scalar (None: a string), by PyYAML's resolver table."""
    for tag, regexp in _RESOLVERS.get(value[0] if value else "", []) + _WILDCARD_RESOLVERS:
        if regexp.match(value):
            return tag
    return None


def _plain(value: str) -> Any:
    """A plain (unquoted) scalar's value: ``80`` is a number, ``true`` a boolean, ``app`` a string."""
    cached = _PLAIN_CACHE.get(value, _NO_KEY)
    if cached is not _NO_KEY:
        return cached
    if value.isdigit() and value.isascii() and (value[0] != "0" or len(value) == 1):
        result: Any = int(value)  # the common case, without the regexes
    else:
        tag = _resolve(value)
        if tag is None:
            result = value
        elif tag == _MERGE:
            result = _MERGE_KEY
        else:
            result = _construct(tag, value)
    if len(_PLAIN_CACHE) > 50_000:  # keys and label values repeat a lot; keep the cache bounded
        _PLAIN_CACHE.clear()
    _PLAIN_CACHE[value] = result  # every value it holds is immutable
    return result


_PLAIN_CACHE: dict[str, Any] = {}


def _construct(tag: str, value: str, style: str | None = None) -> Any:
    """A scalar with a resolved or explicit tag, built by PyYAML's safe constructor."""
    construct = _CONSTRUCTOR.yaml_constructors.get(tag)
    if construct is None:
        raise _Unusual  # an unknown tag: PyYAML's loader reports it in its own words
    try:
        return construct(_CONSTRUCTOR, yaml.ScalarNode(tag, value, style=style))
    except (yaml.YAMLError, ValueError, TypeError) as err:
        raise _Unusual from err


def _fast_documents(text: str) -> list[Any]:
    """Build documents straight from parser events; see :func:`parse_documents`.

    This loop runs once per YAML node, so it keeps to local names and plain lists.
    """
    scalar_event, alias_event = yaml.ScalarEvent, yaml.AliasEvent
    map_start, map_end = yaml.MappingStartEvent, yaml.MappingEndEvent
    seq_start, seq_end = yaml.SequenceStartEvent, yaml.SequenceEndEvent
    doc_start, doc_end, stream_end = yaml.DocumentStartEvent, yaml.DocumentEndEvent, yaml.StreamEndEvent
    no_key, in_sequence, merge_key, str_tag = _NO_KEY, _IN_SEQUENCE, _MERGE_KEY, _STR
    cache = _PLAIN_CACHE
    docs: list[Any] = []
    anchors: dict[str, Any] = {}
    # One frame per open collection: [container, pending key (_NO_KEY: none yet; _IN_SEQUENCE),
    # line of each key (for duplicates), mappings merged in with `<<` (or None)].
    stack: list[list[Any]] = []
    root: Any = None
    number = 0
    in_document = False
    loader = _LOADER(text)
    get_event = loader.get_event
    try:
        while True:
            event = get_event()
            cls = type(event)
            if cls is scalar_event:
                tag = event.tag
                if tag is None and event.implicit[0]:
                    value = cache.get(event.value, no_key)
                    if value is no_key:
                        value = _plain(event.value)
                elif tag is None or tag == str_tag or (tag == "!" and not event.implicit[0]):
                    value = event.value  # quoted or block scalar
                elif tag == "!":
                    value = _plain(event.value)
                else:
                    value = _construct(tag, event.value, event.style)
                if event.anchor is not None:
                    anchors[event.anchor] = value
            elif cls is map_start:
                if event.tag not in _MAP_TAGS:
                    raise _Unusual  # !!omap, !!set, custom tags...
                value = {}
                if event.anchor is not None:
                    anchors[event.anchor] = value
                stack.append([value, no_key, {}, None])
                continue
            elif cls is seq_start:
                if event.tag not in _SEQ_TAGS:
                    raise _Unusual
                value = []
                if event.anchor is not None:
                    anchors[event.anchor] = value
                stack.append([value, in_sequence])
                continue
            elif cls is map_end:
                frame = stack.pop()
                value = frame[0]
                if frame[3]:  # merged keys first; the mapping's own keys override them
                    own = dict(value)
                    value.clear()
                    for merged in frame[3]:
                        value.update(merged)
                    value.update(own)
            elif cls is seq_end:
                value = stack.pop()[0]
            elif cls is alias_event:
                if event.anchor not in anchors:
                    raise _YamlProblem(
                        f"invalid YAML at line {event.start_mark.line + 1}: found undefined alias {event.anchor!r}",
                        number,
                    )
                value = anchors[event.anchor]
            elif cls is doc_start:
                number += 1
                in_document = True
                root = None
                anchors = {}
                continue
            elif cls is doc_end:
                in_document = False
                docs.append(root)
                continue
            elif cls is stream_end or event is None:
                return docs
            else:
                continue  # the stream's start
            # Put the value where it belongs: the document, a sequence, a mapping key or value.
            if not stack:
                root = value
                continue
            frame = stack[-1]
            key = frame[1]
            if key is in_sequence:
                frame[0].append(value)
            elif key is no_key:
                if value is not merge_key:
                    try:
                        seen = value in frame[0]
                    except TypeError:
                        raise _Unusual from None  # a complex key (a list or mapping): PyYAML decides
                    line = event.start_mark.line + 1
                    if seen:
                        raise _YamlProblem(
                            f"invalid YAML at line {line}: duplicate key {_show_key(value)}"
                            f" (first at line {frame[2][value]})",
                            number,
                        )
                    frame[2][value] = line
                frame[1] = value
            else:
                frame[1] = no_key
                if key is merge_key:
                    if isinstance(value, dict):
                        merges = [value]
                    elif isinstance(value, list) and all(isinstance(v, dict) for v in value):
                        merges = list(reversed(value))  # the first mapping listed wins
                    else:
                        raise _Unusual  # PyYAML reports the bad merge
                    frame[3] = (frame[3] or []) + merges
                else:
                    frame[0][key] = value
    except yaml.YAMLError as err:
        # An error before a document's start belongs to the next document.
        raise _YamlProblem(_yaml_message(err), number if in_document else number + 1) from None
    finally:
        loader.dispose()


def _show_key(key: Any) -> str:
    return f'"{key}"' if isinstance(key, str) else repr(key)


def _yaml_message(err: yaml.YAMLError) -> str:
    """``invalid YAML at line 7: mapping values are not allowed here``."""
    mark = getattr(err, "problem_mark", None) or getattr(err, "context_mark", None)
    problem = getattr(err, "problem", None) or str(err).splitlines()[0]
    context = getattr(err, "context", None)
    if context and problem and context not in problem:
        problem = f"{problem} ({context})"
    if mark is not None:
        return f"invalid YAML at line {mark.line + 1}: {problem}"
    return f"invalid YAML: {problem}"
