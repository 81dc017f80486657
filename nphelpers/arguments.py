"""The arguments of the Lab's verbs, checked and coerced before anything is printed or sent.

Each function takes what a student may type (``80``, ``"80"``, ``"tcp"``, ``"app=web,role=api"``)
and returns the one value nphelpers uses, or raises a one-line :class:`~nphelpers.errors.UsageError`
that says what to write instead. Nothing here guesses: a spelling that could mean two things is
refused, so a matrix is never computed for a port or protocol the student did not mean.

Labels are checked exactly as the apiserver checks them (a key is an optional DNS-1123 subdomain
prefix of at most 253 characters and ``/``, then a name of at most 63 characters
``[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?``; a value is empty or at most 63 characters of the
same set), on the path every backend shares.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from .errors import ManifestError, UsageError
from .model import NAME_LABEL

MANAGED_BY = "app.kubernetes.io/managed-by"
PROTOCOLS = ("TCP", "UDP", "SCTP")
MAX_TIMEOUT = 60  # seconds: a probe longer than this is a mistake, not a lesson


def _shown(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def integer(value: Any, what: str, low: int, high: int) -> int:
    """An int in ``[low, high]``; an int-like string (``"80"``) is accepted, a bool or float is not."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise UsageError(f"{what} must be a whole number from {low} to {high}, not {_shown(value)}")
    if isinstance(value, str):
        text = value.strip()
        if not (text.isascii() and text.isdigit()) or len(text) > 6:
            raise UsageError(f"{what} must be a whole number from {low} to {high}, not {_shown(value)}")
        value = int(text)
    if not low <= value <= high:
        raise UsageError(f"{what} must be from {low} to {high}, not {value}")
    return value


def port(value: Any, what: str = "port") -> int:
    """A port number 1-65535: ``80`` or ``"80"``."""
    return integer(value, what, 1, 65535)


def optional_port(value: Any, what: str = "port") -> int | None:
    return None if value is None else port(value, what)


def target_port(value: Any) -> int | str:
    """A Service's ``targetPort``: a number (``80``, ``"80"``) or a container port's name (``"http"``)."""
    if isinstance(value, str) and not value.strip().isdigit():
        name = value.strip()
        from .validation import validate_object

        try:  # the apiserver's rules for a port name (IANA_SVC_NAME), through the manifest validator
            validate_object({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "x"},
                             "spec": {"ports": [{"port": 1, "targetPort": name}]}})
        except ManifestError as err:
            raise UsageError(f"target_port {_shown(value)}: {err.message}") from None
        return name
    return port(value, "target_port")


def protocol(value: Any) -> str:
    """``TCP``, ``UDP`` or ``SCTP``, in any case (``"tcp"`` is ``TCP``)."""
    if isinstance(value, str) and value.strip().upper() in PROTOCOLS:
        return value.strip().upper()
    raise UsageError(f"protocol must be one of {', '.join(PROTOCOLS)}, not {_shown(value)}")


def timeout(value: Any) -> int:
    """Seconds for ``wget --timeout``: 1 to 60."""
    return integer(value, "timeout", 1, MAX_TIMEOUT)


def flag(value: Any, what: str) -> bool:
    if not isinstance(value, bool):
        raise UsageError(f"{what} must be True or False, not {_shown(value)}")
    return value


def name(value: Any, what: str = "name") -> str:
    """A non-empty object name without ``/`` (the apiserver checks its exact form)."""
    if not isinstance(value, str) or not value.strip():
        raise UsageError(f"{what} must be a non-empty string, not {_shown(value)}")
    if "/" in value:
        raise UsageError(f"{what} {_shown(value)} must not contain '/' (give the namespace with namespace=)")
    return value.strip()


def check_label(key: str, value: str | None, shown: str) -> None:
    """One label key (and value, unless a removal) as the apiserver validates it."""
    from .validation import validate_labels

    try:
        validate_labels({key: "" if value is None else value}, "labels")
    except ManifestError as err:
        reason = err.message
        for part in (key, value):  # the validator quotes the bad part whole; say it once, short
            reason = reason.removeprefix(f"invalid value {json.dumps(part, ensure_ascii=False)}: ")
        raise UsageError(f"invalid label {_shown(shown)}: {reason[:200]}") from None


def labels(value: Any, what: str = "labels") -> dict[str, str]:
    """``"app=web,role=api"`` or a mapping of strings, each label checked; ``{}`` for ``None``."""
    if value is None:
        return {}
    if isinstance(value, str):
        result: dict[str, str] = {}
        for item in filter(None, (p.strip() for p in value.split(","))):
            key, sep, val = item.partition("=")
            if not sep:
                raise UsageError(f"{what}: {_shown(item)} is not of the form key=value")
            check_label(key.strip(), val.strip(), item)
            result[key.strip()] = val.strip()
        return result
    if isinstance(value, Mapping):
        for key, val in value.items():
            if not isinstance(key, str) or not isinstance(val, str):
                raise UsageError(f"{what}: keys and values must be strings, not {_shown(key)}: {_shown(val)}")
            check_label(key, val, f"{key}={val}")
        return dict(value)
    raise UsageError(f"{what} must be a string like 'app=web,role=api' or a dict, not {_shown(value)}")


def label_changes(changes: tuple[Any, ...]) -> dict[str, str | None]:
    """``("app=web", "role-")`` or ``("app=web,role-",)`` → ``{"app": "web", "role": None}``.

    ``key=value`` sets, ``key-`` removes (kubectl's syntax). The label nphelpers finds its
    objects by (``app.kubernetes.io/managed-by``) and the namespace name label cannot change.
    """
    result: dict[str, str | None] = {}
    for change in changes:
        if isinstance(change, Mapping):
            items = [f"{k}-" if v is None else f"{k}={v}" for k, v in change.items()]
        elif isinstance(change, str):
            items = change.replace(",", " ").split()
        else:
            raise UsageError(f"a label change is a string like 'app=web' or 'role-', not {_shown(change)}")
        for item in items:
            key, sep, val = item.partition("=")
            if not sep and item.endswith("-"):
                key, removed = item[:-1], True
            elif sep:
                removed = False
            else:
                raise UsageError(f"label {_shown(item)} is not of the form key=value (set) or key- (remove)")
            check_label(key, None if removed else val, item)
            if key in (MANAGED_BY, NAME_LABEL):
                why = ("nphelpers finds the objects it created (to clean them up) by it" if key == MANAGED_BY
                       else "the apiserver sets it to the namespace's name")
                raise UsageError(f"label {key} cannot be changed: {why}")
            result[key] = None if removed else val
    if not result:
        raise UsageError("say which labels to change: 'key=value' to set, 'key-' to remove")
    return result
