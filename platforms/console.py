"""The local console channel of the embedded default: no credentials, answers inline.

Reached from the terminal running `python bot.py` (stdin) and as POST /hooks/console/{name} {"text": ...}.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any, ClassVar

from errors import BadPayload
from platforms import Ack, Inbound, Message, Platform, RawRequest, Target, json_answer, json_object

__all__ = ["ConsolePlatform"]


class ConsolePlatform(Platform):
    name: ClassVar[str] = "console"
    inline_reply: ClassVar[bool] = True
    max_bytes: ClassVar[int] = 1 << 20
    per_minute: ClassVar[int] = 6000

    def __init__(self, bot: str, options: Mapping[str, Any], source: str = "") -> None:
        super().__init__(bot, options, source)
        self.printed: list[str] = []  # what was pushed, for the console and for tests

    def parse(self, req: RawRequest) -> list[Inbound]:
        data = json_object(req.body)
        if not isinstance(data.get("text"), str) or not data["text"].strip():
            raise BadPayload("field 'text': required, a non-empty string")
        event_id = data.get("event_id") or uuid.uuid4().hex
        return [Inbound(platform=self.name, bot=self.bot, event_id=str(event_id), text=data["text"].strip(),
                        chat=str(data.get("chat_id", "console")), sender=str(data.get("sender", "console")))]

    def inline(self, event: Inbound, text: str, extra: Mapping[str, Any]) -> Ack:
        return json_answer(text, extra)

    def render(self, message: Message) -> list[dict[str, Any]]:
        text = f"【{message.title}】\n{message.text()}" if message.title else message.text()
        return [{"text": text}]

    async def send(self, http: Any, target: Target, body: dict[str, Any]) -> None:
        self.printed.append(body["text"])
        print(f"\n[推送 → {target.chat or self.bot}]\n{body['text']}\n", flush=True)
