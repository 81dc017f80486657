"""The live backend's probes: the shell lines it execs and how it reads their output.

Pure functions (no cluster): :class:`~nphelpers.backends.live.LiveBackend` execs the scripts in
the source pod, and the parsers turn what came back into an outcome and the tool's own text,
the same text the simulator renders (:mod:`nphelpers.busybox`). Every script prints the tool's
exit status on a last line of its own (``__rc=N``): the exec call's own status is unreliable.

* ``wget``: busybox ``wget -qO- --timeout=T URL``, stderr merged into stdout.
* ``nc``: busybox ``nc -v -w T HOST PORT`` with stdin at its end (as ``kubectl exec`` without
  ``-i``), stderr merged into stdout.
* ``connect``: ``/agnhost connect HOST:PORT --timeout=Ts --protocol=P`` (upstream's netpol probe;
  the agnhost image has a shell). The UDP source port in its messages is replaced by
  :data:`~nphelpers.busybox.EPHEMERAL_PORT`.
* outside: an HTTP GET from this machine to a node's NodePort (or a LoadBalancer address),
  made by :func:`http_get` and told in busybox wget's words, since the client is not in a pod.
"""

from __future__ import annotations

import re
import shlex
import socket

from .. import busybox
from ..errors import BackendError
from .base import Outcome

_RC_RE = re.compile(r"(?:^|\n)__rc=(\d+)\s*$")


# What busybox wget prints when a probe times out; used when the exec call itself ended
# before wget did (no output at all): the student's terminal would have shown this.
TIMEOUT_TEXT = "wget: download timed out"


def _with_status(line: str) -> str:
    return f"{line} 2>&1; rc=$?; printf '\\n__rc=%s\\n' \"$rc\""


def nc_script(host: str, port: int, timeout: int) -> str:
    """The shell line for ``nc -v -w T HOST PORT`` (stdin at its end, as without ``kubectl exec -i``)."""
    return _with_status(f"nc -v -w {int(timeout)} {shlex.quote(host)} {int(port)} </dev/null")


def connect_script(host: str, port: int, protocol: str, timeout: int) -> str:
    """The shell line for ``/agnhost connect HOST:PORT --timeout=Ts --protocol=p``."""
    target = f"[{host}]:{int(port)}" if ":" in host else f"{host}:{int(port)}"
    return _with_status(f"/agnhost connect {shlex.quote(target)} --timeout={int(timeout)}s "
                        f"--protocol={protocol.lower()}")


def split_status(raw: str) -> tuple[str, int | None]:
    """(the tool's output, its exit status) from a script's output; ``None``: no ``__rc=`` line."""
    match = _RC_RE.search(raw)
    if match is None:
        return raw.rstrip("\n"), None
    text = raw[: match.start()]
    return text[:-1] if text.endswith("\n") else text, int(match.group(1))


def parse_nc_output(raw: str) -> tuple[Outcome, str, int]:
    """Classify what :func:`nc_script` printed: (outcome, busybox nc's text, exit status).

    ``... open`` is ``allowed`` (whatever the server then sent follows it); ``Connection timed
    out`` is ``blocked``; ``bad address`` is ``dns-failure``; exit 1 with no text at all is a
    refusal (a single ``-v`` prints none). No ``__rc=`` line and no text: the exec call gave up
    first, a timeout.
    """
    text, rc = split_status(raw)
    first = text.split("\n", 1)[0]
    if rc == 0 and first.endswith(" open"):
        return "allowed", text, 0
    if "Connection timed out" in first:
        return "blocked", first, 1 if rc is None else rc
    if "bad address" in first:
        return "dns-failure", first, 1 if rc is None else rc
    if rc is not None and rc != 0 and not text.strip():
        return "refused", "", rc
    if "Connection refused" in first:  # -vv would say so; a single -v does not
        return "refused", "", 1 if rc is None else rc
    if rc is None and not text.strip():
        return "blocked", "", 1
    raise BackendError(f"unexpected nc output (exit status {rc}): {text.strip()[:200]!r}")


def parse_connect_output(raw: str) -> tuple[Outcome, str, int]:
    """Classify what :func:`connect_script` printed: (outcome, agnhost's text, exit status).

    Exit 0 (no text) is ``allowed``; agnhost's fixed first word decides the rest: ``TIMEOUT``
    ``blocked``, ``REFUSED`` ``refused``, ``DNS`` ``dns-failure``; ``OTHER: ... connection
    refused`` (an SCTP ABORT) ``refused``.
    """
    text, rc = split_status(raw)
    text = busybox.normalize_agnhost(text.strip())
    if rc == 0:
        return "allowed", text, 0
    code = 1 if rc is None else rc
    if rc is None and not text:
        return "blocked", "TIMEOUT", 1
    word = text.split(":", 1)[0].split()[0] if text else ""
    if word == "TIMEOUT":
        return "blocked", text, code
    if word == "REFUSED" or (word == "OTHER" and "connection refused" in text):
        return "refused", text, code
    if word == "DNS":
        return "dns-failure", text, code
    raise BackendError(f"unexpected agnhost connect output (exit status {rc}): {text[:200]!r}")


def lesson_host(text: str, real: str, lesson: str) -> str:
    """The tool's first line with the host name it was given (``api.nphelpers-lab``) put back as the
    lesson typed it (``api.default``): ``HOST (ip:port) open``, ``nc: HOST (...``, ``'HOST'``, ``lookup HOST on``."""
    first, nl, rest = text.partition("\n")
    pairs = ((f"{real} (", f"{lesson} ("), (f"'{real}'", f"'{lesson}'"), (f"lookup {real} ", f"lookup {lesson} "))
    for before, after in pairs:
        first = first.replace(before, after)
    return first + nl + rest


MAX_BODY = 1_000_000  # bytes an outside GET reads at most


def http_get(address: str, port: int, path: str, timeout: float) -> tuple[str, int, str]:
    """GET ``http://address:port/path`` from this machine: (``allowed``/``blocked``/``refused``, status, body).

    A connect that does not complete within ``timeout`` is ``blocked`` (dropped), a reset
    ``refused``. Bounded: ``timeout`` per socket operation, at most :data:`MAX_BODY` bytes.
    """
    try:
        sock = socket.create_connection((address, int(port)), timeout=timeout)
    except TimeoutError:
        return "blocked", 0, ""
    except ConnectionRefusedError:
        return "refused", 0, ""
    except OSError:  # unreachable network or host: nothing answers
        return "blocked", 0, ""
    with sock:
        host = f"[{address}]" if ":" in address else address
        request = f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUser-Agent: Wget\r\nConnection: close\r\n\r\n"
        data = b""
        try:
            sock.sendall(request.encode())
            while len(data) <= MAX_BODY:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                data += chunk
        except TimeoutError:
            return "blocked", 0, ""
        except OSError:
            return "refused", 0, ""
    head, _, body = data.partition(b"\r\n\r\n")
    status_line = head.split(b"\r\n", 1)[0].decode("latin-1")
    parts = status_line.split()
    status = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0
    return "allowed", status, body.decode("utf-8", errors="replace")


def outside_text(outcome: str, status: int, body: str, address: str, port: int) -> tuple[Outcome, str, int]:
    """busybox wget's words for an outside GET: the body, ``download timed out``, a refusal or an HTTP error."""
    if outcome == "blocked":
        return "blocked", busybox.WGET_TIMEOUT, 1
    if outcome == "refused":
        return "refused", busybox.wget_refused(address), 1
    if status >= 400:
        return "allowed", busybox.wget_http_error(status), 1
    return "allowed", body, 0


def wget_script(url: str, timeout: int) -> str:
    """The shell line run in the client pod: wget, then its exit status on a line of its own."""
    return f"wget -qO- --timeout={int(timeout)} {shlex.quote(url)} 2>&1; rc=$?; printf '\\n__rc=%s\\n' \"$rc\""


def parse_wget_output(raw: str) -> tuple[Outcome, str]:
    """Classify what :func:`wget_script` printed; returns (outcome, busybox's own text).

    ``__rc=0`` is ``allowed``; otherwise busybox's message decides: ``download timed out``
    (dropped by a policy) is ``blocked``, ``bad address`` is ``dns-failure``, ``Connection
    refused`` is ``refused``, ``server returned error`` (an HTTP error status) is ``allowed``
    since the server answered. No ``__rc=`` line and no output means the exec call gave up
    before wget did: a timeout, so ``blocked``. Anything else raises :class:`BackendError`.
    """
    match = _RC_RE.search(raw)
    rc = int(match.group(1)) if match else None
    text = raw[: match.start()] if match else raw
    text = text.rstrip("\n") if rc is None else text
    if rc == 0:
        return "allowed", text
    if "download timed out" in text:
        return "blocked", text.strip()
    if "bad address" in text:
        return "dns-failure", text.strip()
    if "Connection refused" in text:
        return "refused", text.strip()
    if "server returned error" in text:
        return "allowed", text.strip()
    if "can't connect to remote host" in text:  # e.g. "Host is unreachable": a rejecting policy
        return "blocked", text.strip()
    if rc is None and not text.strip():
        return "blocked", TIMEOUT_TEXT
    raise BackendError(f"unexpected wget output (exit status {rc}): {text.strip()!r}")
