"""The plain JSON webhook: anything that can POST JSON can ask the bot.

POST /hooks/webhook/{name} {"event_id", "chat_id", "sender", "text"}; with a `secret`, the header
`X-Gongkai-Signature: sha256=<hex HMAC-SHA256(secret, raw body)>` is required. The answer is the response.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from typing import Any, ClassVar

from errors import BadPayload, BadSignature, MissingSignature
from platforms import Ack, Inbound, Platform, RawRequest, json_answer, json_object, safe_equal

__all__ = ["WebhookPlatform", "sign"]

SIGNATURE_HEADER = "x-gongkai-signature"


def sign(secret: str, body: bytes) -> str:
    """The header value a caller sends."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class WebhookPlatform(Platform):
    name: ClassVar[str] = "webhook"
    inline_reply: ClassVar[bool] = True
    optional_keys: ClassVar[tuple[str, ...]] = ("secret",)
    secret_keys: ClassVar[tuple[str, ...]] = ("secret",)

    def verify(self, req: RawRequest) -> None:
        secret = self.opt("secret")
        if not secret:
            return
        given = req.headers.get(SIGNATURE_HEADER, "")
        if not given:
            raise MissingSignature("missing X-Gongkai-Signature header")
        if not safe_equal(given, sign(secret, req.body)):
            raise BadSignature("X-Gongkai-Signature does not match the body")

    def parse(self, req: RawRequest) -> list[Inbound]:
        data = json_object(req.body)
        fields: dict[str, str] = {}
        for key in ("event_id", "chat_id", "sender", "text"):
            value = data.get(key, "" if key in ("chat_id", "sender") else None)
            if not isinstance(value, str):
                raise BadPayload(f"field {key!r}: required, a string")
            fields[key] = value
        if not fields["event_id"].strip():
            raise BadPayload("field 'event_id': must not be empty")
        if not fields["text"].strip():
            raise BadPayload("field 'text': must not be empty")
        return [Inbound(platform=self.name, bot=self.bot, event_id=fields["event_id"], text=fields["text"].strip(),
                        chat=fields["chat_id"], sender=fields["sender"])]

    def inline(self, event: Inbound, text: str, extra: Mapping[str, Any]) -> Ack:
        return json_answer(text, extra)
