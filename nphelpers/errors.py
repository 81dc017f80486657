"""Errors that reach users: each prints as one line that says what to fix."""

from __future__ import annotations


class NphelpersError(ValueError):
    """Base class of every mistake a user can make: ``str(err)`` is a complete, one-line message.

    It is a :class:`ValueError`, so ``except ValueError`` catches bad input from nphelpers too.
    """


class UsageError(NphelpersError):
    """A verb was called with an argument it cannot use (a bad port, label, name or kind)."""


class ManifestError(NphelpersError):
    """A manifest is invalid: names the file, the document and the field path.

    Raised without a location by the validators (``field`` and ``message`` only);
    the loader adds ``source`` and ``document`` with :meth:`at`.
    """

    def __init__(
        self,
        message: str,
        *,
        field: str | None = None,
        source: str | None = None,
        document: int | None = None,
    ) -> None:
        self.message = message
        self.field = field
        self.source = source
        self.document = document
        super().__init__(str(self))

    def at(self, source: str | None, document: int | None) -> ManifestError:
        """The same error, located in ``source`` (a file name) and ``document`` (1-based)."""
        return ManifestError(self.message, field=self.field, source=source, document=document)

    def under(self, prefix: str) -> ManifestError:
        """The same error with ``prefix`` put before the field path (``items[2]``)."""
        field = f"{prefix}.{self.field}" if self.field else prefix
        return ManifestError(self.message, field=field, source=self.source, document=self.document)

    def __str__(self) -> str:
        parts = []
        if self.source is not None:
            parts.append(self.source)
        if self.document is not None:
            parts.append(f"document {self.document}")
        if self.field:
            parts.append(self.field)
        parts.append(self.message)
        return ": ".join(parts)


class NotFoundError(NphelpersError):
    """An object that a command names does not exist (like kubectl's NotFound)."""


class BackendError(NphelpersError):
    """The cluster backend cannot do what was asked (unreachable, unsafe context, timeout)."""


MAX_SHOWN = 400  # characters of an error line shown in a notebook; the rest is cut with "..."


def one_line(err: BaseException, limit: int = MAX_SHOWN) -> str:
    """``err``'s message on one short line (newlines folded, long input cut)."""
    text = " ".join(str(err).split("\n"))
    return text if len(text) <= limit else text[: limit - 3] + "..."


def show_errors_in_one_line() -> bool:
    """In IPython, show a user's mistake (an :class:`NphelpersError`) as ``error: ...``, not a traceback.

    Installed by ``import nphelpers`` inside IPython and again by every ``Lab()`` before it
    does anything that can fail. Returns whether a shell was found. Never imports IPython
    itself (the command line does not need it).
    """
    import sys

    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    if shell is None:
        return False

    def show(shell: object, etype: type, value: BaseException, tb: object, tb_offset: int | None = None) -> None:
        print(f"error: {one_line(value)}", file=sys.stderr)

    shell.set_custom_exc((NphelpersError,), show)
    return True
