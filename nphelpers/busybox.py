"""What busybox ``wget`` and ``nc`` and agnhost ``connect`` print, exactly, for each outcome.

The probes' own texts (no kubectl here: :mod:`nphelpers.kubectl` renders commands and kubectl's
lines). Every function returns the text without the final newline, except
:func:`nginx_index`, which is a page body.

Where the texts come from
-------------------------
* busybox 1.36 (the ``busybox:1.36`` client image, built with busybox's defconfig):
  ``networking/wget.c`` (``download timed out`` from the connect/read alarm; ``server returned
  error: HTTP/1.1 404 Not Found`` for an HTTP error status), ``libbb/xconnect.c`` (``bad address
  '%s'``, ``can't connect to remote host (%s)``), ``libbb/verror_msg.c`` (``applet: msg:
  strerror``).
* busybox ``nc``: defconfig builds ``networking/nc_bloaty.c`` (``NC_110_COMPAT`` defaults to
  ``y`` in ``networking/nc.c``'s config). With ``-v``: success prints ``<host as typed>
  (<ip>:<port>) open`` on stderr; a connect timeout (``-w`` arms an alarm, errno faked to
  ETIMEDOUT) prints ``nc: <host> (<ip>:<port>): Connection timed out`` and exits 1; a refusal is
  shown only with ``-vv`` ("if we're scanning at a 'one -v' verbosity level, don't print
  refusals"), so a single ``-v`` prints nothing and exits 1; a name that does not resolve dies in
  ``xhost2sockaddr`` with ``nc: bad address '<host>'``. After connecting nc copies the network to
  stdout until the server closes or, stdin being at its end (``kubectl exec`` without ``-i``),
  until its ``-w`` select timeout passes twice; either way it exits 0.
* agnhost ``connect`` (``test/images/agnhost/connect/connect.go``, image 2.52): nothing on
  success (exit 0); on failure one line on stderr starting with a fixed word (``TIMEOUT``,
  ``REFUSED``, ``DNS``, ``OTHER``) and exit 1. For TCP: ``TIMEOUT`` or ``REFUSED``. For SCTP: a
  timeout is ``TIMEOUT``. For UDP it writes a datagram and waits for the reply: ``TIMEOUT: read
  udp <src>:<port>-><dst>:<port>: i/o timeout``, or ``REFUSED: ...: read: connection refused``
  when an ICMP port-unreachable comes back. The UDP source port is the kernel's ephemeral pick,
  different on every run: like ``Created on:`` in ``kubectl describe``, nphelpers prints
  :data:`EPHEMERAL_PORT` in its place on every backend (:func:`normalize_agnhost`).
"""

from __future__ import annotations

import re
from importlib import resources

WGET_TIMEOUT = "wget: download timed out"
"""busybox wget when ``--timeout`` expires, also while connecting (dropped packets)."""

EPHEMERAL_PORT = "<ephemeral>"
"""What nphelpers prints for the UDP client's ephemeral source port in agnhost's messages."""


def hostport(ip: str, port: int) -> str:
    """``10.96.0.12:6379``, or ``[fd00::1]:6379`` for IPv6, as busybox's ``xmalloc_sockaddr2dotted`` prints it."""
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"


# -- wget ----------------------------------------------------------------------------------------
def wget_bad_address(host: str) -> str:
    """busybox wget when the name does not resolve; ``host`` as in the URL (with ``:port``)."""
    return f"wget: bad address '{host}'"


def wget_refused(ip: str) -> str:
    """busybox wget when the connection is refused (the address it connected to)."""
    return f"wget: can't connect to remote host ({ip}): Connection refused"


def wget_http_error(status: int) -> str:
    """busybox wget when the server answers an error status: ``wget: server returned error: HTTP/1.1 404 Not Found``."""
    reasons = {400: "Bad Request", 403: "Forbidden", 404: "Not Found", 500: "Internal Server Error"}
    return f"wget: server returned error: HTTP/1.1 {status} {reasons.get(status, '')}".rstrip()


def nginx_index() -> str:
    """The body nginx 1.27 (``nginx:1.27-alpine``) serves at ``/``: its default welcome page.

    Exactly the 615 bytes of ``/usr/share/nginx/html/index.html`` (nginx's
    ``docs/html/index.html``), ending in a newline, which ``wget -qO-`` prints as is.
    On a live cluster check it with ``kubectl exec <nginx-pod> -- cat /usr/share/nginx/html/index.html
    | sha256sum``: fb47468a2cd3953c7131431991afcc6a2703f14640520102eea0a685a7e8d6de.
    """
    return resources.files("nphelpers").joinpath("data/nginx-index.html").read_text(encoding="utf-8")


# -- nc ------------------------------------------------------------------------------------------
def nc_open(host: str, ip: str, port: int) -> str:
    """``nc -v`` connected: ``db (10.96.0.12:6379) open`` (stderr), host as typed."""
    return f"{host} ({hostport(ip, port)}) open"


def nc_timed_out(host: str, ip: str, port: int) -> str:
    """``nc -v -w N`` when the connect alarm fires: ``nc: db (10.96.0.12:6379): Connection timed out``."""
    return f"nc: {host} ({hostport(ip, port)}): Connection timed out"


def nc_bad_address(host: str) -> str:
    """``nc`` when the name does not resolve: ``nc: bad address 'db'``."""
    return f"nc: bad address '{host}'"


# -- agnhost connect -------------------------------------------------------------------------------
def agnhost_dns_failure(host: str, server: str, timed_out: bool) -> str:
    """agnhost when Go's resolver fails: ``DNS: lookup db on 10.96.0.10:53: no such host`` (NXDOMAIN
    for every name of the search path), or ``...: i/o timeout`` when the lookups are dropped."""
    return f"DNS: lookup {host} on {server}: {'i/o timeout' if timed_out else 'no such host'}"


def agnhost_failure(protocol: str, outcome: str, src: str | None = None, dst: str | None = None) -> str:
    """What ``/agnhost connect HOST:PORT --timeout=Ns --protocol=P`` prints for a failed ``outcome``
    (``blocked`` or ``refused``; see :func:`agnhost_dns_failure` for names).

    ``src``/``dst`` are ``ip:port`` of the UDP socket (the source port as :data:`EPHEMERAL_PORT`).
    An SCTP association refused (the peer's ABORT) surfaces as Go's ``OTHER: connection refused``.
    """
    proto = protocol.lower()
    if proto == "udp":
        where = f"read udp {src}->{dst}"
        if outcome == "refused":
            return f"REFUSED: {where}: read: connection refused"
        return f"TIMEOUT: {where}: i/o timeout"
    if outcome == "refused" and proto == "tcp":
        return "REFUSED"
    if outcome == "refused":
        return "OTHER: connection refused"
    return "TIMEOUT"


_UDP_SOCKET = re.compile(r"^((?:TIMEOUT|REFUSED): read udp \S+?):\d+->")


def normalize_agnhost(text: str) -> str:
    """Put :data:`EPHEMERAL_PORT` in place of the kernel-chosen UDP source port in agnhost's line."""
    return _UDP_SOCKET.sub(lambda m: f"{m.group(1)}:{EPHEMERAL_PORT}->", text)
