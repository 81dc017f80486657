"""The ``nphelpers`` command: reachability matrices and explanations from YAML files.

The JSON output of ``matrix`` is a stable contract; ``-o classes`` is its compact form for
large clusters (pods, their class ids and the allowed class pairs: megabytes where the pair
list takes gigabytes). This path imports neither pandas nor matplotlib nor ipywidgets nor
numpy, and PyYAML only when a file needs it. Large loads and outputs use forked workers
(``-j``; :mod:`nphelpers.forking`) with the same results as one process.
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from . import __version__
from .errors import BackendError, NphelpersError
from .forking import MAX_JOBS, default_jobs

if TYPE_CHECKING:
    from .cluster import ClusterState

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_INVALID = 2
PROTOCOLS = ("TCP", "UDP", "SCTP")


def _number(what: str, low: int, high: int) -> Callable[[str], int]:
    """An argparse type: a whole number from ``low`` to ``high``, else a usage error naming ``what``."""

    def convert(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"invalid {what} {text!r}: expected a number from {low} to {high}") \
                from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"invalid {what} {value}: expected a number from {low} to {high}")
        return value

    return convert


_port = _number("port", 1, 65535)
_jobs = _number("job count", 1, MAX_JOBS)


def _protocol(text: str) -> str:
    value = text.upper()
    if value not in PROTOCOLS:
        raise argparse.ArgumentTypeError(f"invalid protocol {text!r}: expected TCP, UDP or SCTP")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="nphelpers",
        description="Kubernetes NetworkPolicy, simulated exactly: who can reach whom, and why.",
    )
    parser.add_argument("--version", action="version", version=f"nphelpers {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("-f", "--filename", dest="paths", action="append", required=True, metavar="PATH",
                       help="a YAML file or a directory of them (repeatable)")
        p.add_argument("-n", "--namespace", default="default",
                       help="namespace for objects that name none (default: default)")
        p.add_argument("--port", type=_port, default=80, help="destination port (default: 80)")
        p.add_argument("--protocol", type=_protocol, default="TCP", help="TCP, UDP or SCTP (default: TCP)")
        p.add_argument("-j", "--jobs", type=_jobs, default=None, metavar="N",
                       help=f"processes a large load may use (default: NPHELPERS_JOBS, else the CPUs, "
                            f"at most {MAX_JOBS})")

    m = sub.add_parser("matrix", help="which pod can connect to which (a truth table or JSON)")
    common(m)
    m.add_argument("-o", "--output", choices=("table", "json", "classes"), default="table",
                   help="table (default), json (every allowed pair), or classes (compact: pod classes and class pairs)")

    e = sub.add_parser("explain", help="why one connection is allowed or blocked")
    common(e)
    e.add_argument("--from", dest="source", required=True, metavar="NS/POD", help="the client pod (or an IP)")
    e.add_argument("--to", dest="destination", required=True, metavar="NS/POD", help="the server pod (or an IP)")
    e.add_argument("-o", "--output", choices=("text", "json"), default="text")

    d = sub.add_parser("doctor", help="check that the current kind cluster enforces NetworkPolicy")
    d.add_argument("--context", help="kubeconfig context (default: the current one)")
    d.add_argument("--allow-context", action="store_true",
                   help="allow a context that is not a local kind cluster (kind-X on a loopback server)")
    return parser


def _load(paths: Sequence[str], namespace: str, jobs: int) -> ClusterState:
    from .cluster import ClusterState
    from .manifests import load_paths

    result = load_paths(paths, namespace=namespace, jobs=jobs)
    for note in result.notes:
        print(f"note: {note}", file=sys.stderr)
    return ClusterState.from_objects(result.objects, namespace)


def cmd_matrix(args: argparse.Namespace) -> int:
    from .matrix import reachability

    jobs = default_jobs() if args.jobs is None else args.jobs
    state = _load(args.paths, args.namespace, jobs)
    matrix = reachability(state, args.port, args.protocol, pods=sorted(state.pods))
    buffer = getattr(sys.stdout, "buffer", None)
    if args.output == "json" and buffer is not None:  # bytes straight to the file: it can be gigabytes
        from .jsonout import write_json

        sys.stdout.flush()
        write_json(matrix, buffer, jobs)
    elif args.output == "json":  # a stream without bytes underneath (a StringIO)
        for chunk in matrix.iter_json():
            sys.stdout.write(chunk)
        sys.stdout.write("\n")
    elif args.output == "classes":
        for chunk in matrix.iter_classes_json():
            sys.stdout.write(chunk)
        sys.stdout.write("\n")
    else:
        print(f"# {args.port}/{args.protocol}: row = from, column = to; '.' allowed, 'X' blocked")
        print(matrix.to_table())
    return EXIT_OK


def cmd_explain(args: argparse.Namespace) -> int:
    from .engine import evaluate, resolve_endpoint

    state = _load(args.paths, args.namespace, default_jobs() if args.jobs is None else args.jobs)
    source = resolve_endpoint(state, args.source, args.namespace)
    destination = resolve_endpoint(state, args.destination, args.namespace)
    verdict = evaluate(state, source, destination, args.port, args.protocol)
    if args.output == "json":
        print(json.dumps(verdict.to_dict(), indent=2))
    else:
        print(verdict.explain())
    return EXIT_OK


def cmd_doctor(args: argparse.Namespace) -> int:
    from .backends.live import LiveBackend

    # doctor() works in a scratch namespace of its own and always deletes it.
    backend = LiveBackend(args.context, allow_any_context=args.allow_context)
    try:
        print(backend.doctor())
    finally:
        backend.close()
    return EXIT_OK


def _one_line(text: str, limit: int = 400) -> str:
    """A message as one short line, whatever it holds (the loaders keep theirs short already)."""
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 3] + "..."


def main(argv: Sequence[str] | None = None) -> int:
    # One short-lived process that builds millions of acyclic objects: the cycle collector
    # would only walk them again and again (10-20 % of a large matrix's time).
    gc.disable()
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = {"matrix": cmd_matrix, "explain": cmd_explain, "doctor": cmd_doctor}[args.command]
    try:
        return handler(args)
    except BackendError as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_FAILED
    except NphelpersError as err:
        print(f"error: {_one_line(str(err))}", file=sys.stderr)
        return EXIT_INVALID
    except BrokenPipeError:  # `nphelpers matrix ... | head`
        return EXIT_OK
    except OSError as err:  # a full disk, say, while writing a large answer
        print(f"error: cannot write the output: {err.strerror or err}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
