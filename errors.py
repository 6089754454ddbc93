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
    """A platform request we refuse; `status` is the HTTP status to answer, `hint` what the admin reading the
    log should check (the message itself names the detail)."""

    status = 400
    hint = "请求无法识别"


class MissingSignature(InboundError):
    status = 401
    hint = "缺少签名：请求不是平台发来的，或机器人的签名没有开启"


class BadSignature(InboundError):
    status = 403
    hint = "签名不符或时间戳过期：请核对配置中的 Token、密钥与平台后台一致，并校准服务器时间"


class BadPayload(InboundError):
    status = 400
    hint = "请求内容无法识别"


class CannotDecrypt(BadPayload):
    hint = "无法解密：请核对配置中的 EncodingAESKey 或 Encrypt Key 与平台后台一致（企业微信须为智能机器人）"


class UnknownBot(InboundError):
    status = 404
    hint = "没有这个接收消息的机器人：请核对平台后台填写的回调地址（/hooks/平台/机器人名）"


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
