"""Sliding-window rate limits: broadcasts per pushing bot (scheduler/outbox) and Feishu's reply API."""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable, Iterable

__all__ = ["Limiter", "acquire"]


class Limiter:
    """Sliding windows (20 in any 60 s, 5 in any 1 s): a token bucket's refill would allow 20 + refill in one
    minute and earn DingTalk's 10-minute lockout."""

    def __init__(self, windows: Iterable[tuple[float, int]],
                 clock_fn: Callable[[], float] = time.monotonic) -> None:
        self.windows: list[tuple[float, int, deque[float]]] = [
            (length, max(1, limit), deque()) for length, limit in windows]
        self.clock, self.paused_until = clock_fn, 0.0

    @classmethod
    def per_rate(cls, per_minute: int, per_second: float = 0.0, scale: float = 1.0,
                 clock_fn: Callable[[], float] = time.monotonic) -> Limiter:
        """A platform's documented push limit; `scale` shrinks the windows for benchmarks."""
        windows = [(60.0 * scale, per_minute)]
        if per_second:
            windows.append((scale / per_second if per_second < 1 else scale, int(per_second)))
        return cls(windows, clock_fn)

    def wait_time(self) -> float:
        now = self.clock()
        wait = self.paused_until - now
        for length, limit, stamps in self.windows:
            while stamps and stamps[0] <= now - length:
                stamps.popleft()
            if len(stamps) >= limit:
                wait = max(wait, stamps[0] + length - now)
        return max(0.0, wait)

    def take(self) -> None:
        now = self.clock()
        for _, _, stamps in self.windows:
            stamps.append(now)

    def pause(self, seconds: float) -> None:
        self.paused_until = max(self.paused_until, self.clock() + seconds)

    def idle(self) -> bool:
        """Nothing in any window: forgetting this limiter loses nothing."""
        return self.wait_time() == 0.0 and not any(stamps for _, _, stamps in self.windows)


async def acquire(*limiters: Limiter) -> None:
    """Wait until every limiter has room, then take a slot in each (no await in between: no one jumps in)."""
    while True:
        wait = max(limiter.wait_time() for limiter in limiters)
        if wait <= 0:
            for limiter in limiters:
                limiter.take()
            return
        await asyncio.sleep(wait)
