"""Sliding-window rate limits: broadcasts per pushing bot (scheduler/outbox) and Feishu's reply API."""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable, Iterable

__all__ = ["Limiter", "acquire", "MARGIN"]

MARGIN = 1.0  # seconds added to a minute window (a quarter of it to a one-second window)


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
        """A platform's documented push limit; `scale` shrinks the windows for benchmarks. The platform counts
        posts as they arrive and we as they leave: network jitter can bring two posts a full window apart closer
        on arrival, and the 21st post in DingTalk's minute costs ten minutes, so each window is a little longer."""
        windows = [((60.0 + MARGIN) * scale, per_minute)]
        if per_second:
            windows.append(((1 / per_second if per_second < 1 else 1.0) * scale + MARGIN / 4 * scale,
                            int(per_second)))
        return cls(windows, clock_fn)

    def seed(self, ages: Iterable[float]) -> None:
        """Posts made `ages` seconds ago (by this process before a restart): they still count in the windows."""
        now = self.clock()
        for _, _, stamps in self.windows:
            stamps.extend(sorted(now - age for age in ages if age >= 0))

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
