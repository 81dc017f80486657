"""A headless JupyterLab server on a free localhost port, isolated from the user's Jupyter config.

Everything Jupyter reads or writes (config, data, runtime files, lab settings and workspaces,
IPython and matplotlib config) lives under a temporary directory, so the machine's own setup
cannot change what the test sees, and the test leaves nothing behind.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

# Lab settings for a quiet, deterministic page: no extension manager reaching out to PyPI, and
# every notebook cell attached to the DOM. (No news or update pop-ups, no autosave, no widget state:
# the project's own jupyter/labconfig says so; callers put it on JUPYTER_CONFIG_PATH, as lab.sh does.)
LAB_SETTINGS: dict[str, dict[str, object]] = {
    "@jupyterlab/extensionmanager-extension/plugin": {"enabled": False},
    "@jupyterlab/notebook-extension/tracker": {"windowingMode": "none"},
}


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class LabServer:
    base_url: str
    token: str
    root: Path
    process: subprocess.Popen[bytes]
    log_path: Path

    def url(self, path: str) -> str:
        """``path`` (``lab/tree/...``) on this server, logged in with the token."""
        sep = "&" if "?" in path else "?"
        return f"{self.base_url}{path.lstrip('/')}{sep}token={self.token}"

    def log(self, tail: int = 60) -> str:
        lines = self.log_path.read_text(errors="replace").splitlines()
        return "\n".join(lines[-tail:])

    def settings(self, plugin: str) -> dict[str, object]:
        """The settings JupyterLab uses for ``plugin``: the schema's defaults (where the server puts the
        overrides of ``labconfig/default_setting_overrides.json``) under the user's own settings."""
        found = self.api(f"settings/{plugin}", prefix="lab/api/")
        assert isinstance(found, dict)
        defaults = {k: p.get("default") for k, p in found["schema"].get("properties", {}).items()}
        return {**defaults, **(found.get("settings") or {})}

    def api(self, path: str, method: str = "GET", timeout: float = 5.0, prefix: str = "api/") -> object:
        request = urllib.request.Request(
            f"{self.base_url}{prefix}{path.lstrip('/')}",
            method=method,
            headers={"Authorization": f"token {self.token}"},
        )
        with urllib.request.urlopen(request, timeout=timeout) as response:
            body = response.read()
        return json.loads(body) if body else None


def _isolated_env(home: Path, extra: Mapping[str, str]) -> dict[str, str]:
    env = dict(os.environ)
    dirs = {
        "JUPYTER_CONFIG_DIR": home / "config",
        "JUPYTER_DATA_DIR": home / "data",
        "JUPYTER_RUNTIME_DIR": home / "runtime",
        "JUPYTERLAB_SETTINGS_DIR": home / "lab-settings",
        "JUPYTERLAB_WORKSPACES_DIR": home / "lab-workspaces",
        "IPYTHONDIR": home / "ipython",
        "MPLCONFIGDIR": home / "matplotlib",
    }
    for name, path in dirs.items():
        path.mkdir(parents=True, exist_ok=True)
        env[name] = str(path)
    for plugin, values in LAB_SETTINGS.items():
        target = dirs["JUPYTERLAB_SETTINGS_DIR"] / f"{plugin}.jupyterlab-settings"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(values))
    env.pop("JUPYTER_PATH", None)
    env.pop("JUPYTER_PREFER_ENV_PATH", None)
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


@contextlib.contextmanager
def jupyterlab(root: Path, home: Path, env: Mapping[str, str] | None = None, *, timeout: float = 60.0) -> Iterator[
    LabServer
]:
    """Start ``jupyter lab`` serving ``root``; yield once it answers; shut it (and its kernels) down after.

    ``home`` is a scratch directory for Jupyter's config and state; ``env`` adds variables for the
    server and its kernels.
    """
    port = free_port()
    token = secrets.token_hex(16)
    home.mkdir(parents=True, exist_ok=True)
    log_path = home / "jupyterlab.log"
    command = [
        sys.executable, "-m", "jupyterlab",
        "--no-browser",
        "--ServerApp.open_browser=False",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        f"--ServerApp.root_dir={root}",
        f"--IdentityProvider.token={token}",
        "--ServerApp.password=",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
    ]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.append("--allow-root")  # CI and the dev machines run as root
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command,
            cwd=root,
            env=_isolated_env(home, env or {}),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = LabServer(f"http://127.0.0.1:{port}/", token, root, process, log_path)
    try:
        _wait_until_up(server, timeout)
        yield server
    finally:
        _stop(server)


def _wait_until_up(server: LabServer, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"jupyter lab exited with {server.process.returncode}:\n{server.log()}")
        try:
            server.api("status", timeout=2)
            return
        except (OSError, urllib.error.URLError) as exc:
            last_error = exc
        time.sleep(0.25)
    raise TimeoutError(f"jupyter lab did not answer within {timeout:.0f}s ({last_error}):\n{server.log()}")


def _stop(server: LabServer) -> None:
    """Ask the server to shut down (it stops its kernels), then make sure it is gone."""
    process = server.process
    if process.poll() is None:
        with contextlib.suppress(OSError, urllib.error.URLError):
            server.api("shutdown", method="POST", timeout=5)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)
