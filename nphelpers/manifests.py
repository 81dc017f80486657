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

Every input is bounded, so that a crafted or mistaken file costs seconds and megabytes,
not minutes and gigabytes; beyond a limit the load stops with one line naming the file
(and document, and field) — see the ``MAX_*`` constants: bytes per file and per load,
documents, YAML nodes, nodes reached through aliases, nesting depth, digits of a number,
pods. Only regular files are read (a FIFO or ``/dev/zero`` given with ``-f`` is refused
before anything is read from it), and error messages never echo more than a short
excerpt of a value.
"""

from __future__ import annotations

import codecs
import itertools
import os
import stat
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .errors import ManifestError
from .validation import KINDS, WORKLOAD_KINDS, _show, _type_name, validate_object, validate_workload
from .yamlio import MAX_DEPTH as FAST_MAX_DEPTH
from .yamlio import fast_documents_counted

__all__ = [
    "LoadResult", "load_paths", "load_text", "load_objects", "expand_workload", "parse_documents", "copy_manifest",
]

# PyYAML is imported when a text needs it (the yaml_rs fast path reads most manifests);
# libyaml's loader is many times faster than the pure Python one; fall back when missing.
yaml: Any = None
_LOADER: Any = None
_SUFFIXES = (".yaml", ".yml")

# -- limits (documented in the README; a user's real manifests stay far below them) ---------
MAX_FILE_BYTES = 32 * 2**20  # one file
MAX_INPUT_BYTES = 64 * 2**20  # everything one load reads
MAX_FILES = 100_000  # files below the directories of one load
MAX_DOCUMENTS = 100_000  # YAML documents in one load (empty ones count)
MAX_NODES = 4_000_000  # YAML nodes (mappings, lists, scalars) in one load, aliases expanded
MAX_ALIAS_NODES = 100_000  # nodes reached through aliases (*name) in one file
MAX_DEPTH = FAST_MAX_DEPTH  # nesting levels of one document (100)
MAX_NUMBER_CHARS = 4300  # characters of a number: Python's limit for reading an integer (a port has 5)
MAX_PODS = 50_000  # pods in one load, a workload's replicas included
MAX_NOTES = 20  # notes kept; the rest are counted in one last note


@dataclass(frozen=True)
class LoadResult:
    """What a batch of manifests holds for the simulator."""

    objects: list[dict] = field(default_factory=list)  # Namespace/Pod/Service/NetworkPolicy, in file order
    notes: list[str] = field(default_factory=list)  # one line per skipped document or item


def load_paths(paths: Iterable[str | os.PathLike[str]], namespace: str = "default", *,
               jobs: int = 1) -> LoadResult:
    """Load files and directories (recursively: ``*.yaml``, ``*.yml``), in the order given.

    With ``jobs`` above 1 (the command line's choice), a large load is shared with forked
    worker processes where that is safe (:mod:`nphelpers.forking`); the result, notes and
    errors are the same as in one process.
    """
    if isinstance(paths, (str, os.PathLike)):  # one path, not an iterable of characters
        paths = [paths]
    if jobs > 1:
        paths = list(paths)
        shared = _load_shared(paths, namespace, jobs)
        if shared is not None:
            return shared
    batch = _Batch(namespace)
    for source in _files(paths):
        batch.add_text(_read(source, batch.bytes_left()), source)
    return batch.result()


# -- a load shared with workers ---------------------------------------------------------
MIN_SHARED_FILES = 64  # a directory of many files is shared out by file
MIN_SHARED_BYTES = 1 << 20  # one file is shared out by document from this size on

_Piece = tuple[str, "str | None"]  # a source and its text, or None: read it


def _load_shared(paths: list[str | os.PathLike[str]], namespace: str, jobs: int) -> LoadResult | None:
    """The load in ``jobs`` processes, or None: too small to share, not safe to fork, or
    anything unusual (the caller then loads in one process, which also finds the same first
    error any part found)."""
    from . import forking

    if not forking.can_fork():
        return None
    try:
        files = list(_files(paths))
        parts = _share_out(files, jobs)
    except ManifestError:
        return None
    if parts is None:
        return None
    workers: list[forking.Worker] = []
    try:
        workers = [forking.Worker(_load_part, part, namespace) for part in parts[1:]]
        mine = _load_part(parts[0], namespace)
        results = [mine] + [w.result() for w in workers]
    except (ManifestError, forking.WorkerFailed):
        forking.stop_all(workers)
        return None
    except BaseException:
        forking.stop_all(workers)
        raise
    return _merge(results, one_file=parts[0][0][1] is not None)


def _share_out(files: list[str], jobs: int) -> list[list[_Piece]] | None:
    """Contiguous parts of the load, one per process: runs of files, or pieces of one big file
    cut between documents (at a ``---`` line). The first part, the caller's own, is a little
    larger: a worker also pickles its result, and the caller unpickles it."""
    shares = [_OWN_SHARE] + [1.0] * (jobs - 1)
    ends = list(itertools.accumulate(shares))
    if len(files) >= MIN_SHARED_FILES:
        cuts = [0] + [round(len(files) * e / ends[-1]) for e in ends]
        return [[(f, None) for f in files[a:b]] for a, b in itertools.pairwise(cuts) if a < b]
    if len(files) != 1 or _size(files[0]) < MIN_SHARED_BYTES:  # a small file is read once, by one process
        return None
    text = _read(files[0])
    if len(text) < MIN_SHARED_BYTES or text.count("---") > MAX_DOCUMENTS:  # too many documents: one
        return None  # process finds the error at once, without parts that each stay under the limit
    cuts = [0]
    for e in ends[:-1]:
        at = text.find("\n---\n", max(cuts[-1], int(len(text) * e / ends[-1])))
        if at < 0:
            break
        cuts.append(at + 1)  # the piece before ends with its newline, the next starts with ---
    cuts.append(len(text))
    if len(cuts) < 3:
        return None
    return [[(files[0], text[a:b])] for a, b in itertools.pairwise(cuts)]


def _size(name: str) -> int:
    try:
        return os.stat(name).st_size
    except OSError:  # the one-process load says why
        return 0


_OWN_SHARE = 1.3  # the caller's part against 1 for each worker's (measured: a worker also pickles its result)


@dataclass
class _Part:
    """One process's part of a shared load: what a batch holds, and the documents of each piece."""

    objects: list[dict]
    notes: list[_Note]
    more_notes: int
    seen: dict[tuple[str, str, str], _Place]
    documents_used: int
    nodes_used: int
    bytes: int
    pods: int
    pieces: list[tuple[str, int]]  # (source, documents) per piece, in order


def _load_part(pieces: list[_Piece], namespace: str) -> _Part:
    batch = _Batch(namespace)
    counted = []
    for source, text in pieces:
        if text is None:
            text = _read(source, batch.bytes_left())
        counted.append((source, batch.add_text(text, source)))
    return _Part(batch.objects, batch.notes, batch.more_notes, batch.seen, MAX_DOCUMENTS - batch.budget.documents,
                 MAX_NODES - batch.budget.nodes, batch.bytes, batch.pods, counted)


def _merge(parts: list[_Part], one_file: bool) -> LoadResult | None:
    """The parts as one batch, or None when one process would have found a problem (a name
    defined in two parts, a limit of the whole load): it then reports it itself.

    ``one_file``: the parts are pieces of one file, whose documents are numbered on from
    piece to piece (runs of files need no renumbering; a file named twice counts from 1 twice).
    """
    total = _Batch("")
    offset = 0  # documents of the one file in the pieces merged so far
    for part in parts:
        for key, (source, number, prefix, made_by) in part.seen.items():
            if key in total.seen:
                return None
            total.seen[key] = (source, number + offset, prefix, made_by)
        for source, number, prefix, text in part.notes:
            total.note(source, number + offset, prefix, text)
        total.more_notes += part.more_notes
        total.objects.extend(part.objects)
        total.budget.documents -= part.documents_used
        total.budget.nodes -= part.nodes_used
        total.bytes += part.bytes
        total.pods += part.pods
        if one_file:
            offset += sum(documents for _, documents in part.pieces)
    if total.budget.documents < 0 or total.budget.nodes < 0 or total.bytes > MAX_INPUT_BYTES or total.pods > MAX_PODS:
        return None
    return total.result()


def load_text(text: str, source: str = "<string>", namespace: str = "default") -> LoadResult:
    """Load YAML text (one or more documents); ``source`` names it in errors and notes."""
    batch = _Batch(namespace)
    if len(text) > MAX_FILE_BYTES:  # characters, not bytes: close enough for a bound
        raise ManifestError(_too_large(len(text)), source=source)
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


def copy_manifest(value: Any) -> Any:
    """A deep copy of a manifest as read (mappings become dicts, lists and tuples lists; scalars shared)."""
    if isinstance(value, Mapping):
        return {k: copy_manifest(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [copy_manifest(v) for v in value]
    return value


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
def _files(paths: Iterable[str | os.PathLike[str]]) -> Iterable[str]:
    """Every file name, directories expanded in sorted order."""
    count = 0
    for given in paths:
        name = os.fspath(given)
        names = _walk(name) if os.path.isdir(name) else [name]
        count += len(names)
        if count > MAX_FILES:
            raise ManifestError(f"too many files: more than {MAX_FILES:,} in one load", source=name)
        yield from names


def _walk(directory: str) -> list[str]:
    """Manifest files below ``directory``, named by joining onto the path as given."""
    found: list[str] = []
    for root, dirs, files in os.walk(directory):
        dirs.sort()
        found.extend(os.path.join(root, f) for f in files if f.endswith(_SUFFIXES))
        if len(found) > MAX_FILES:
            break
    # os.walk visits a directory's files before its subdirectories; sort on path parts so
    # that "a/b.yaml" and "a.yaml" order the same way on every machine. Every path starts
    # with `directory` (os.walk joins onto it), so the part below it is a slice.
    cut = len(os.path.join(directory, ""))
    return sorted(found, key=lambda p: p[cut:].split(os.sep))


def _too_large(size: int) -> str:
    return (f"too large ({size:,} bytes): the limit is {MAX_FILE_BYTES // 2**20} MiB per file and "
            f"{MAX_INPUT_BYTES // 2**20} MiB per load; split the manifests")


def _read(name: str, budget: int = MAX_INPUT_BYTES) -> str:
    """The text of a regular file, at most ``budget`` bytes; never blocks on a FIFO or a device.

    The file is opened without blocking and its type checked on the open descriptor, so a
    FIFO, a socket or ``/dev/zero`` is refused before a byte is read from it.
    """
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(name, flags)
    except FileNotFoundError:
        raise ManifestError("no such file or directory", source=name) from None
    except PermissionError:
        raise ManifestError("permission denied", source=name) from None
    except OSError as err:
        raise ManifestError((err.strerror or str(err)).lower(), source=name) from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise ManifestError(f"not a regular file ({_file_type(info.st_mode)}): give a YAML file or a directory",
                                source=name)
        limit = min(MAX_FILE_BYTES, budget)
        if info.st_size > limit:
            raise ManifestError(_too_large(info.st_size), source=name)
        # One read of the whole file and one byte more, which tells whether it has grown since
        # fstat; only a file that grew is read on, up to limit + 1 bytes.
        data = os.read(fd, info.st_size + 1)
        if len(data) > info.st_size:
            chunks = [data]
            size = len(data)
            while size <= limit and (chunk := os.read(fd, min(1 << 20, limit + 1 - size))):
                chunks.append(chunk)
                size += len(chunk)
            data = b"".join(chunks)
        if len(data) > limit:
            raise ManifestError(_too_large(len(data)), source=name)
    except OSError as err:
        raise ManifestError((err.strerror or str(err)).lower(), source=name) from None
    finally:
        os.close(fd)
    try:
        # tolerate a byte order mark
        return data.decode("utf-8-sig" if data.startswith(codecs.BOM_UTF8) else "utf-8")
    except UnicodeDecodeError as err:
        raise ManifestError(f"not UTF-8 text (byte {err.start})", source=name) from None


def _file_type(mode: int) -> str:
    for test, word in ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return word
    return "a special file"


# -- one batch ------------------------------------------------------------------------
class _Batch:
    """Documents seen so far: the objects kept, notes, and where each object was defined."""

    def __init__(self, namespace: str) -> None:
        self.namespace = namespace
        self.objects: list[dict] = []
        # Where things were found, kept as (source, document, prefix, ...) and written out
        # only when shown, so that a part loaded in a worker can be renumbered (nphelpers.forking).
        self.notes: list[_Note] = []
        self.seen: dict[tuple[str, str, str], _Place] = {}
        self.budget = _Budget()
        self.bytes = 0
        self.pods = 0
        self.more_notes = 0  # notes beyond MAX_NOTES, counted only

    def result(self) -> LoadResult:
        notes = [f"{self._where(source, number, prefix)}{text}" for source, number, prefix, text in self.notes]
        if self.more_notes:
            notes.append(f"... and {self.more_notes:,} more notes like these")
        return LoadResult(self.objects, notes)

    def bytes_left(self) -> int:
        return MAX_INPUT_BYTES - self.bytes

    def note(self, source: str, number: int, prefix: str, text: str) -> None:
        if len(self.notes) < MAX_NOTES:
            self.notes.append((source, number, prefix, text))
        else:
            self.more_notes += 1

    def add_text(self, text: str, source: str) -> int:
        """Validate and keep every document of ``text``; returns how many documents it holds."""
        self.bytes += len(text)
        if self.bytes > MAX_INPUT_BYTES:
            raise ManifestError(_too_large(self.bytes) + " (counting every file of this load)", source=source)
        docs = _parse(text, source, self.budget)
        for number, doc in enumerate(docs, start=1):
            if doc is not None:  # an empty document is counted but holds nothing
                self.add_document(doc, source, number)
        return len(docs)

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
            self.budget.documents -= len(items)  # each item counts as a document
            if self.budget.documents < 0:
                raise ManifestError(f"too many objects: more than {MAX_DOCUMENTS:,} documents and List items "
                                    "in one load; split the manifests", field=prefix + "items")
            for i, item in enumerate(items):
                self._add(item, source, number, f"{prefix}items[{i}].")
            return
        if kind in KINDS:
            self._validate(validate_object, doc, prefix)
            if kind == "Pod":
                self._count_pods(1, prefix + "metadata.name")
            self._keep(doc, source, number, prefix)
        elif kind in WORKLOAD_KINDS:
            self._validate(validate_workload, doc, prefix)
            made_by = f"{kind} {doc['metadata']['name']}"
            replicas = (doc.get("spec") or {}).get("replicas")
            self._count_pods(1 if kind == "DaemonSet" or replicas is None else replicas, prefix + "spec.replicas")
            pods = expand_workload(doc)
            if not pods:
                self.note(source, number, prefix, f"{made_by} has 0 replicas: no pods")
            for pod in pods:
                self._check_generated_name(pod, prefix)
                self._keep(pod, source, number, prefix, made_by=made_by)
        else:
            shown = kind if len(kind) <= 60 and kind.isprintable() else _show(kind)
            self.note(source, number, prefix, f"skipped kind {shown} (not used by NetworkPolicy)")

    def _count_pods(self, count: int, field: str) -> None:
        self.pods += count
        if self.pods > MAX_PODS:
            raise ManifestError(f"too many pods: the simulator holds at most {MAX_PODS:,} pods in one load "
                                f"({self.pods:,} with this object)", field=field)

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
        first = self.seen.get(key)
        if first is not None:
            shown = f"{namespace}/{meta['name']}" if namespace else meta["name"]
            raise ManifestError(
                f'duplicate {kind} "{shown}"' + (f" (made by {made_by})" if made_by else "")
                + f": already defined at {_place_text(first)}",
                field=prefix + "metadata.name",
            )
        self.seen[key] = (source, number, prefix, made_by)
        self.objects.append(obj)


_Note = tuple[str, int, str, str]  # source, document, prefix (items[i].), text
_Place = tuple[str, int, str, "str | None"]  # source, document, prefix, the workload that made it


def _place_text(place: _Place) -> str:
    source, number, prefix, made_by = place
    text = f"{source}: document {number}" + (f": {prefix.rstrip('.')}" if prefix else "")
    return text + (f" ({made_by})" if made_by else "")


# -- YAML --------------------------------------------------------------------------------
class _Budget:
    """What one load may still read: documents and YAML nodes."""

    __slots__ = ("documents", "nodes")

    def __init__(self) -> None:
        self.documents = MAX_DOCUMENTS
        self.nodes = MAX_NODES


def parse_documents(text: str, source: str = "<string>") -> list[Any]:
    """Every document of ``text`` (``None`` for an empty one), as ``yaml.safe_load_all`` gives them.

    A syntax error raises :class:`ManifestError` naming ``source``, the document and the
    line, and so does text beyond a limit (documents, nodes, aliases, depth, long numbers).
    Plain manifests are read by ``yaml_rs`` when it is installed and its answer is certainly
    PyYAML's (:mod:`nphelpers.yamlio`); the rest by a fast builder working on libyaml's parser
    events (PyYAML's own constructor costs several times more than the parsing), which also
    refuses a key given twice in one mapping, as kubectl does. YAML it does not handle
    (explicit collection tags such as ``!!set``) is read again by PyYAML's safe loader, after
    a pass over the events that applies the same limits.
    """
    return _parse(text, source, _Budget())


def _parse(text: str, source: str, budget: _Budget) -> list[Any]:
    fast = fast_documents_counted(text, budget.nodes)
    if fast is not None:
        docs, nodes = fast
        if len(docs) > budget.documents:
            raise ManifestError(_too_many_documents(), source=source, document=budget.documents + 1)
        budget.documents -= len(docs)
        budget.nodes -= nodes
        return docs
    _pyyaml()
    try:
        return _fast_documents(text, budget)
    except _Unusual:
        pass
    except _YamlProblem as problem:
        raise ManifestError(problem.message, source=source, document=problem.document) from None
    try:
        _check_limits(text, budget)
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
        except (ValueError, TypeError, OverflowError, RecursionError) as err:  # a tagged scalar PyYAML cannot build
            raise ManifestError(f"invalid YAML: cannot read a value: {_clip(str(err))}", source=source,
                                document=len(docs) + 1) from None


def _too_many_documents() -> str:
    return f"too many documents: at most {MAX_DOCUMENTS:,} in one load; split the manifests"


def _clip(text: str, limit: int = 120) -> str:
    """One short line of ``text``."""
    line = " ".join(text.split())
    return line if len(line) <= limit else line[:limit] + "..."


class _Unusual(Exception):
    """YAML outside what the fast builder handles: use PyYAML's constructor instead."""


class _YamlProblem(Exception):
    def __init__(self, message: str, document: int) -> None:
        super().__init__(message)
        self.message = message
        self.document = document


class _BadScalar(Exception):
    """A scalar whose tag says what it is, but whose text cannot be that (``!!int eighty``)."""


_RESOLVERS: dict[Any, list[tuple[str, Any]]] = {}  # first character -> [(tag, regex)], from PyYAML
_WILDCARD_RESOLVERS: list[tuple[str, Any]] = []
_CONSTRUCTOR: Any = None


def _pyyaml() -> None:
    """Import PyYAML and set up what the builder takes from it, once."""
    global yaml, _LOADER, _RESOLVERS, _WILDCARD_RESOLVERS, _CONSTRUCTOR
    if _CONSTRUCTOR is not None:
        return
    import yaml as module

    yaml = module
    if _LOADER is None:
        _LOADER = getattr(module, "CSafeLoader", module.SafeLoader)
    _RESOLVERS = module.resolver.Resolver.yaml_implicit_resolvers
    _WILDCARD_RESOLVERS = _RESOLVERS.get(None, [])
    _CONSTRUCTOR = module.constructor.SafeConstructor()

_STR = "tag:yaml.org,2002:str"
_MERGE = "tag:yaml.org,2002:merge"
_NUMBER_TAGS = ("tag:yaml.org,2002:int", "tag:yaml.org,2002:float")
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
    if len(value) > MAX_NUMBER_CHARS and value[:1] in "0123456789+-." and _resolve(value) in _NUMBER_TAGS:
        raise _BadScalar(f"a number of {len(value):,} characters is too long (at most {MAX_NUMBER_CHARS})")
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
    if tag in _NUMBER_TAGS and len(value) > MAX_NUMBER_CHARS:
        raise _BadScalar(f"a number of {len(value):,} characters is too long (at most {MAX_NUMBER_CHARS})")
    try:
        return construct(_CONSTRUCTOR, yaml.ScalarNode(tag, value, style=style))
    except (yaml.YAMLError, ValueError, TypeError, OverflowError) as err:
        short = tag.rsplit(":", 1)[-1]
        shown = _show(value)
        raise _BadScalar(f"cannot read {shown} as !!{short} ({_clip(str(err), 60)})") from err


def _fast_documents(text: str, budget: _Budget) -> list[Any]:
    """Build documents straight from parser events; see :func:`parse_documents`.

    This loop runs once per YAML node, so it keeps to local names and plain lists. It
    counts nodes (an alias counts as the nodes it stands for) and nesting as it goes, and
    stops at the limits before building more.
    """
    scalar_event, alias_event = yaml.ScalarEvent, yaml.AliasEvent
    map_start, map_end = yaml.MappingStartEvent, yaml.MappingEndEvent
    seq_start, seq_end = yaml.SequenceStartEvent, yaml.SequenceEndEvent
    doc_start, doc_end, stream_end = yaml.DocumentStartEvent, yaml.DocumentEndEvent, yaml.StreamEndEvent
    no_key, in_sequence, merge_key, str_tag = _NO_KEY, _IN_SEQUENCE, _MERGE_KEY, _STR
    cache = _PLAIN_CACHE
    docs: list[Any] = []
    anchors: dict[str, Any] = {}
    sizes: dict[str, int] = {}  # nodes each anchored node stands for (its start count while open)
    # One frame per open collection: [container, pending key (_NO_KEY: none yet; _IN_SEQUENCE),
    # line of each key (for duplicates), mappings merged in with `<<` (or None), anchor, node
    # count at its start]; a sequence's frame is [container, _IN_SEQUENCE, anchor, count at start].
    stack: list[list[Any]] = []
    root: Any = None
    number = 0
    in_document = False
    nodes = 0  # nodes built in this text, aliases expanded
    node_limit = budget.nodes
    aliased = 0  # nodes reached through aliases
    event: Any = None
    loader = _LOADER(text)
    get_event = loader.get_event
    try:
        while True:
            event = get_event()
            cls = type(event)
            if cls is scalar_event:
                nodes += 1
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
                    sizes[event.anchor] = 1
            elif cls is map_start or cls is seq_start:
                nodes += 1
                if len(stack) >= MAX_DEPTH:
                    raise _YamlProblem(f"invalid YAML at line {event.start_mark.line + 1}: nested deeper than "
                                       f"{MAX_DEPTH} levels", number)
                if nodes > node_limit:
                    raise _YamlProblem(_too_many_nodes(event), number)
                if cls is map_start:
                    if event.tag not in _MAP_TAGS:
                        raise _Unusual  # !!omap, !!set, custom tags...
                    value = {}
                    stack.append([value, no_key, {}, None, event.anchor, nodes])
                else:
                    if event.tag not in _SEQ_TAGS:
                        raise _Unusual
                    value = []
                    stack.append([value, in_sequence, event.anchor, nodes])
                if event.anchor is not None:
                    anchors[event.anchor] = value
                    sizes[event.anchor] = -nodes  # open: minus the count at its start
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
                if frame[4] is not None:
                    sizes[frame[4]] = nodes - frame[5] + 1
            elif cls is seq_end:
                frame = stack.pop()
                value = frame[0]
                if frame[2] is not None:
                    sizes[frame[2]] = nodes - frame[3] + 1
            elif cls is alias_event:
                if event.anchor not in anchors:
                    line = event.start_mark.line + 1
                    raise _YamlProblem(f"invalid YAML at line {line}: found undefined alias {_show(event.anchor)}",
                                       number)
                size = sizes[event.anchor]
                size = size if size > 0 else nodes + size + 1  # an alias to a node still open
                aliased += size
                nodes += size
                if aliased > MAX_ALIAS_NODES:
                    raise _YamlProblem(_too_many_aliased(event), number)
                if nodes > node_limit:
                    raise _YamlProblem(_too_many_nodes(event), number)
                value = anchors[event.anchor]
            elif cls is doc_start:
                number += 1
                if number > budget.documents:
                    raise _YamlProblem(_too_many_documents(), number)
                in_document = True
                root = None
                anchors = {}
                sizes = {}
                continue
            elif cls is doc_end:
                in_document = False
                docs.append(root)
                continue
            elif cls is stream_end or event is None:
                budget.documents -= number
                budget.nodes -= nodes
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
    except _BadScalar as bad:
        line = event.start_mark.line + 1 if event is not None else 1
        raise _YamlProblem(f"invalid YAML at line {line}: {bad}", number) from None
    finally:
        loader.dispose()


def _too_many_nodes(event: Any) -> str:
    return (f"too large at line {event.start_mark.line + 1}: more than {MAX_NODES:,} YAML nodes in one load"
            " (aliases counted as what they stand for)")


def _too_many_aliased(event: Any) -> str:
    return (f"invalid YAML at line {event.start_mark.line + 1}: aliases expand to more than "
            f"{MAX_ALIAS_NODES:,} nodes (an alias bomb?); write the objects out")


def _check_limits(text: str, budget: _Budget) -> None:
    """Apply the builder's limits to text PyYAML's loader will read (its events only, nothing built)."""
    loader = _LOADER(text)
    number = depth = nodes = aliased = 0
    sizes: dict[str, int] = {}
    open_anchors: list[str | None] = []
    try:
        while True:
            event = loader.get_event()
            cls = type(event)
            if cls is yaml.ScalarEvent:
                nodes += 1
                if event.anchor is not None:
                    sizes[event.anchor] = 1
            elif cls in (yaml.MappingStartEvent, yaml.SequenceStartEvent):
                nodes += 1
                depth += 1
                if depth > MAX_DEPTH:
                    raise _YamlProblem(f"invalid YAML at line {event.start_mark.line + 1}: nested deeper than "
                                       f"{MAX_DEPTH} levels", number)
                open_anchors.append(event.anchor)
                if event.anchor is not None:
                    sizes[event.anchor] = -nodes
            elif cls in (yaml.MappingEndEvent, yaml.SequenceEndEvent):
                depth -= 1
                anchor = open_anchors.pop()
                if anchor is not None:
                    sizes[anchor] = nodes + sizes[anchor] + 1
            elif cls is yaml.AliasEvent:
                size = sizes.get(event.anchor, 1)
                size = size if size > 0 else nodes + size + 1
                aliased += size
                nodes += size
                if aliased > MAX_ALIAS_NODES:
                    raise _YamlProblem(_too_many_aliased(event), number)
            elif cls is yaml.DocumentStartEvent:
                number += 1
                sizes = {}
                if number > budget.documents:
                    raise _YamlProblem(_too_many_documents(), number)
            elif cls is yaml.StreamEndEvent or event is None:
                return
            if nodes > budget.nodes:
                raise _YamlProblem(_too_many_nodes(event), number)
    except yaml.YAMLError:
        return  # the loader reports it, with its own words
    finally:
        loader.dispose()


def _show_key(key: Any) -> str:
    return f'"{key}"' if isinstance(key, str) and len(key) <= 60 and key.isprintable() else _show(key)


def _yaml_message(err: yaml.YAMLError) -> str:
    """``invalid YAML at line 7: mapping values are not allowed here``."""
    mark = getattr(err, "problem_mark", None) or getattr(err, "context_mark", None)
    problem = getattr(err, "problem", None) or str(err).splitlines()[0]
    context = getattr(err, "context", None)
    if context and problem and context not in problem:
        problem = f"{problem} ({context})"
    problem = _clip(problem)
    if mark is not None:
        return f"invalid YAML at line {mark.line + 1}: {problem}"
    return f"invalid YAML: {problem}"
