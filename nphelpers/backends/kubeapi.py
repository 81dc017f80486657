"""The API seam of the live backend: exactly the calls it makes, on plain dicts, every one bounded.

:class:`KubeApi` wraps the official ``kubernetes`` client; tests pass an in-memory fake with the
same methods (``tests/fake_kube.py``). Every request carries ``_request_timeout=(connect, read)``
and the client never retries on its own (``Configuration.retries = False``): a server that
accepts connections but never answers costs one read timeout, not four. :meth:`KubeApi.quick`
shortens the timeouts for cleanup after Ctrl-C.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import urllib3

from ..errors import BackendError
from .kubeconfig import Kubeconfig

Timeouts = tuple[float, float]  # (connect, read) seconds, as the client's _request_timeout takes them
DEFAULT_TIMEOUTS: Timeouts = (5.0, 10.0)
QUICK_TIMEOUTS: Timeouts = (1.0, 2.0)  # cleanup after Ctrl-C: give up fast


class KubeApi:
    """Exactly the API calls :class:`~nphelpers.backends.live.LiveBackend` makes, on plain dicts.

    ``kind`` is one of Namespace, Pod, Service, NetworkPolicy; ``namespace`` is ``None`` for
    namespaces. Refusals are ``kubernetes.client.ApiException`` (``.status`` 404, 409...); an
    API server that cannot be reached or does not answer in time is a one-line
    :class:`BackendError`.
    """

    def __init__(self, configuration: Any, *, timeouts: Timeouts = DEFAULT_TIMEOUTS) -> None:
        from kubernetes import client

        self._client_mod = client
        configuration.retries = False  # urllib3 would retry reads 3 more times: one timeout is enough
        self.configuration = configuration
        self.timeouts: Timeouts = (float(timeouts[0]), float(timeouts[1]))
        self._client = client.ApiClient(configuration)
        self._core = client.CoreV1Api(self._client)
        self._net = client.NetworkingV1Api(self._client)
        # stream() swaps a method on the ApiClient it is given: exec gets its own client,
        # one per thread, so parallel probes and plain calls never see each other's swap.
        self._local = threading.local()
        self._exec_clients: list[Any] = []
        self._lock = threading.Lock()

    @classmethod
    def from_kubeconfig(cls, context: str | None, config: Kubeconfig | None, *,
                        timeouts: Timeouts = DEFAULT_TIMEOUTS) -> KubeApi:
        from kubernetes import client
        from kubernetes import config as kube_config

        cfg = client.Configuration()
        try:  # name the file(s) explicitly: the client's default path is frozen at import time
            kube_config.load_kube_config(
                config_file=os.pathsep.join(config.paths) if config else None,
                context=context,
                client_configuration=cfg,
                persist_config=False,
            )
        except Exception as err:
            first = (str(err).strip().splitlines() or [err.__class__.__name__])[0][:200]
            raise BackendError(f"cannot load kube context {context!r}: {first}") from None
        return cls(cfg, timeouts=timeouts)

    # -- timeouts ------------------------------------------------------------------------
    def timeout(self) -> Timeouts:
        """The (connect, read) timeouts of the next request on this thread."""
        return getattr(self._local, "quick", None) or self.timeouts

    @contextlib.contextmanager
    def quick(self, timeouts: Timeouts = QUICK_TIMEOUTS) -> Iterator[None]:
        """Requests on this thread use ``timeouts`` (never longer than the usual ones) inside the block."""
        saved = getattr(self._local, "quick", None)
        self._local.quick = (min(timeouts[0], self.timeouts[0]), min(timeouts[1], self.timeouts[1]))
        try:
            yield
        finally:
            self._local.quick = saved

    def _unreachable(self, err: BaseException) -> BackendError:
        connect, read = self.timeout()
        host = self.configuration.host
        if isinstance(err, urllib3.exceptions.ConnectTimeoutError) or "ConnectTimeout" in repr(err):
            what = f"did not accept a connection within {connect:g}s"
        elif isinstance(err, (urllib3.exceptions.TimeoutError, TimeoutError)):
            what = f"did not answer within {read:g}s"
        else:
            what = f"cannot be reached ({err.__class__.__name__})"
        return BackendError(
            f"the Kubernetes API at {host} {what}: is the kind cluster running? "
            "('kind get clusters', 'scripts/kind-cluster.sh up')"
        )

    # -- the calls -----------------------------------------------------------------------
    def _method(self, verb: str, kind: str) -> Callable[..., Any]:
        if kind == "Namespace":
            return getattr(self._core, f"{verb}_namespace")  # type: ignore[no-any-return]
        api = self._net if kind == "NetworkPolicy" else self._core
        suffix = {"Pod": "pod", "Service": "service", "NetworkPolicy": "network_policy"}[kind]
        return getattr(api, f"{verb}_namespaced_{suffix}")  # type: ignore[no-any-return]

    def _guard(self, call: Callable[[], Any], what: str) -> Any:
        """Run one request: ApiException passes, transport failures become one line."""
        try:
            return call()
        except self._client_mod.ApiException:
            raise
        except (urllib3.exceptions.HTTPError, OSError) as err:  # refused, DNS, TLS, timeouts
            raise self._unreachable(err) from None
        except Exception as err:  # e.g. the client could not read the reply
            first = (str(err).strip().splitlines() or [""])[0][:200]
            raise BackendError(
                f"unexpected reply from the Kubernetes API ({what}): {err.__class__.__name__}: {first}"
            ) from None

    def _call(self, verb: str, kind: str, namespace: str | None, *args: Any, raw: bool = False, **kwargs: Any) -> Any:
        """Call the generated method; ``raw`` skips decoding the reply (errors still raise)."""
        method = self._method(verb, kind)
        if kind != "Namespace":
            args = (*args[:1], namespace, *args[1:]) if verb not in ("create", "list") else (namespace, *args)
        kwargs["_request_timeout"] = self.timeout()
        if raw:
            kwargs["_preload_content"] = False

        def call() -> Any:
            result = method(*args, **kwargs)
            if raw:
                result.read()
                result.release_conn()
                return None
            return self._client.sanitize_for_serialization(result)

        return self._guard(call, f"{verb} {kind}")

    def version(self) -> dict[str, Any]:
        """``GET /version``: a cheap question that proves the server answers."""
        api = self._client_mod.VersionApi(self._client)
        return self._guard(  # type: ignore[no-any-return]
            lambda: self._client.sanitize_for_serialization(api.get_code(_request_timeout=self.timeout())),
            "get version",
        )

    def create(self, kind: str, namespace: str | None, body: Mapping[str, Any]) -> dict[str, Any]:
        return self._call("create", kind, namespace, dict(body))  # type: ignore[no-any-return]

    def read(self, kind: str, namespace: str | None, name: str) -> dict[str, Any]:
        return self._call("read", kind, namespace, name)  # type: ignore[no-any-return]

    def replace(self, kind: str, namespace: str | None, name: str, body: Mapping[str, Any]) -> dict[str, Any]:
        return self._call("replace", kind, namespace, name, dict(body))  # type: ignore[no-any-return]

    def patch(self, kind: str, namespace: str | None, name: str, patch: Mapping[str, Any]) -> dict[str, Any]:
        """A JSON merge patch (RFC 7386): ``None`` values remove keys."""
        return self._call(  # type: ignore[no-any-return]
            "patch", kind, namespace, name, dict(patch), _content_type="application/merge-patch+json"
        )

    def delete(self, kind: str, namespace: str | None, name: str, *, grace_period_seconds: int | None = None) -> None:
        # A DELETE answers with the object or with a Status, depending on the kind and the
        # server version; the strict generated models reject the other one, so skip decoding.
        self._call("delete", kind, namespace, name, raw=True, grace_period_seconds=grace_period_seconds)

    def list(
        self, kind: str, namespace: str | None = None, *, label_selector: str | None = None
    ) -> list[dict[str, Any]]:
        result = self._call("list", kind, namespace, label_selector=label_selector)
        return list(result.get("items") or [])

    def list_any(self, api_version: str, plural: str, namespace: str, *, limit: int = 50) -> list[dict[str, Any]]:
        """Up to ``limit`` objects of any namespaced resource (``v1``/``configmaps``,
        ``apps/v1``/``deployments``), as plain dicts; used to check that a namespace is empty."""
        prefix = "/api/v1" if api_version == "v1" else f"/apis/{api_version}"
        path = f"{prefix}/namespaces/{namespace}/{plural}"

        def call() -> Any:
            method, url, headers, body, post = self._client.param_serialize(
                "GET", path, query_params=[("limit", int(limit))],
                header_params={"Accept": "application/json"}, auth_settings=["BearerToken"],
            )
            response = self._client.call_api(
                method, url, header_params=headers, body=body, post_params=post, _request_timeout=self.timeout()
            )
            response.read()
            if not 200 <= response.status < 300:
                raise self._client_mod.ApiException(http_resp=response)
            return json.loads(response.data or b"{}")

        result = self._guard(call, f"list {plural}")
        return list(result.get("items") or []) if isinstance(result, dict) else []

    def exec(self, namespace: str, pod: str, command: Sequence[str], *, timeout: float | None = None) -> str:
        """Run ``command`` in ``pod``; stdout and stderr as one string (may be cut short)."""
        import websocket
        from kubernetes.stream import stream

        # The client opens exec's websocket without a timeout: a server that never answers
        # would hang here for ever. websocket-client takes its default from this global.
        if websocket.getdefaulttimeout() is None:
            websocket.setdefaulttimeout(sum(self.timeouts))
        core = getattr(self._local, "core", None)
        if core is None:
            exec_client = self._client_mod.ApiClient(self.configuration)
            with self._lock:
                self._exec_clients.append(exec_client)
            core = self._local.core = self._client_mod.CoreV1Api(exec_client)
        try:
            out = stream(
                core.connect_get_namespaced_pod_exec,
                pod,
                namespace,
                command=list(command),
                stderr=True,
                stdin=False,
                stdout=True,
                tty=False,
                _request_timeout=timeout or sum(self.timeout()),
            )
        except self._client_mod.ApiException as err:
            # The client turns Ctrl-C during exec into ApiException(status=0): give it back.
            if isinstance(err.__context__, KeyboardInterrupt):
                raise KeyboardInterrupt from None
            if not err.status:
                raise BackendError(f"exec in pod {namespace}/{pod} failed: {str(err.reason)[:200]}") from None
            raise
        except Exception as err:
            first = (str(err).strip().splitlines() or [""])[0][:200]
            raise BackendError(f"exec in pod {namespace}/{pod} failed: {err.__class__.__name__}: {first}") from None
        if isinstance(out, bytes):
            return out.decode("utf-8", "replace")
        return "" if out is None else str(out)

    def close(self) -> None:
        with self._lock:
            clients, self._exec_clients = [self._client, *self._exec_clients], []
        for c in clients:
            c.close()
