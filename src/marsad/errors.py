"""marsad's error hierarchy: every failure says what happened and to what."""

from __future__ import annotations


class MarsadError(Exception):
    """Base class of every error marsad raises on purpose."""

    status = 500

    def __init__(self, message: str, *, subject: str | None = None):
        self.message = message
        self.subject = subject  # the file, URL or id the error is about
        super().__init__(f"{subject}: {message}" if subject else message)


class ParseError(MarsadError):
    """Input could not be turned into articles (unreadable file, bad record)."""

    status = 422


class EmptyInput(ParseError):
    """Input that holds nothing to store (a record with no title and no text): skipped, not failed."""


class StoreError(MarsadError):
    """The database refused or failed an operation."""


class NotFound(MarsadError):
    """A requested article, source or story does not exist."""

    status = 404


class Rejected(MarsadError):
    """Input was deliberately refused (too large, not allowed); `reason` says why."""

    status = 400

    def __init__(self, reason: str, *, subject: str | None = None):
        self.reason = reason
        super().__init__(reason, subject=subject)
