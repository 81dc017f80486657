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
