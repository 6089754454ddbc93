"""The one exception tree of gongkai.

GongkaiError                      anything we raise on purpose; str() is the user-facing line
├── ConfigError                   "file: [section] key: reason"
├── ImportRowError                one bad row of a catalog import: file, line, field, reason
├── NotFound                      an id that names nothing (catalog item, request, notice, group)
├── InvalidInput                  a staff or CLI argument that makes no sense
├── InboundError                  a request from a platform we refuse
│   ├── MissingSignature          401
│   ├── BadSignature              403 (wrong, stale or replayed)
│   ├── BadPayload                400 (malformed JSON, missing fields, undecryptable)
│   └── UnknownBot                404
└── DeliveryError                 a send to a platform failed
    ├── RateLimited               retry after `retry_after` seconds
    ├── TemporaryError            5xx, timeout, connection reset: retry with backoff
    └── PermanentError            bad key, bad sign, keyword missing: dead-letter
"""

from __future__ import annotations

__all__ = [
    "GongkaiError",
    "ConfigError",
    "ImportRowError",
    "NotFound",
    "InvalidInput",
    "InboundError",
    "MissingSignature",
    "BadSignature",
    "BadPayload",
    "UnknownBot",
    "DeliveryError",
    "RateLimited",
    "TemporaryError",
    "PermanentError",
]


class GongkaiError(Exception):
    """Base of every error we raise deliberately."""


class ConfigError(GongkaiError):
    """A bad configuration file or environment: stops start-up."""


class ImportRowError(GongkaiError):
    """One bad row in a catalog import file."""

    def __init__(self, file: str, line: int, field: str, reason: str) -> None:
        self.file, self.line, self.field, self.reason = file, line, field, reason
        super().__init__(f"{file}:{line}: {field}: {reason}")


class NotFound(GongkaiError):
    """An id that names nothing."""


class InvalidInput(GongkaiError):
    """A staff or CLI argument that makes no sense."""


class InboundError(GongkaiError):
    """A platform request we refuse; `status` is the HTTP status to answer."""

    status = 400


class MissingSignature(InboundError):
    status = 401


class BadSignature(InboundError):
    status = 403


class BadPayload(InboundError):
    status = 400


class UnknownBot(InboundError):
    status = 404


class DeliveryError(GongkaiError):
    """A send failed; `code` is the platform's errcode or the HTTP status."""

    def __init__(self, message: str, code: int | str | None = None) -> None:
        self.code = code
        super().__init__(message)


class RateLimited(DeliveryError):
    def __init__(self, message: str, retry_after: float, code: int | str | None = None) -> None:
        self.retry_after = retry_after
        super().__init__(message, code)


class TemporaryError(DeliveryError):
    pass


class PermanentError(DeliveryError):
    pass
