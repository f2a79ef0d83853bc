"""A byte budget shared by every request in progress: what bounds the service's memory is bytes, not a
count of images or requests (one 40-megapixel PNG costs as much to decode as 40,000 thumbnails).

    budget = ByteBudget(512 * 2**20, wait_s=5)
    async with budget.hold(cost):      # waits its turn (first come, first served); BudgetTooSmall or Busy
        ...                            # the memory is in use
    lease = await budget.take(cost); ...; budget.give_back(lease)   # when the hold outlives one block
    if budget.try_take(n): ...                                        # never waits (bodies, chunk by chunk)

- A request that needs more than the whole budget can never run: BudgetTooSmall at once (a 413).
- A request that has to wait longer than `wait_s` for others to finish: Busy (a 503 + Retry-After).
- Waiters are served in arrival order, so a large request is not starved by a stream of small ones.

Everything runs on the event loop: no locks, and releasing wakes the next waiter at once.
"""
from __future__ import annotations

import asyncio
from collections import deque
from contextlib import asynccontextmanager


class BudgetTooSmall(Exception):
    """The request alone needs more than the whole budget."""


class Busy(Exception):
    """The budget stayed in use by other requests for longer than the wait allowed."""


class ByteBudget:
    def __init__(self, total: int, wait_s: float = 5.0, what: str = "memory"):
        if total < 1:
            raise ValueError(f"a byte budget must be >= 1 byte, got {total}")
        self.total = total
        self.wait_s = wait_s
        self.what = what
        self.used = 0
        self.peak = 0  # the most ever held at once (for tests and metrics)
        self._waiters: deque[tuple[int, asyncio.Future]] = deque()

    @property
    def free(self) -> int:
        return self.total - self.used

    async def take(self, nbytes: int) -> int:
        """Hold `nbytes` (waiting up to wait_s for them); returns the lease to give back."""
        nbytes = max(0, int(nbytes))
        if nbytes > self.total:
            raise BudgetTooSmall(f"needs {_mib(nbytes)} of {self.what}; the service allows {_mib(self.total)} at once")
        if not self._waiters and nbytes <= self.free:
            self._hold(nbytes)
            return nbytes
        waiter = asyncio.get_running_loop().create_future()
        entry = (nbytes, waiter)
        self._waiters.append(entry)
        try:
            await asyncio.wait_for(asyncio.shield(waiter), self.wait_s)
        except (asyncio.TimeoutError, asyncio.CancelledError) as e:
            if waiter.done() and not waiter.cancelled():  # granted just as the wait ended: keep the books straight
                self.give_back(nbytes)
            else:
                waiter.cancel()
                self._waiters.remove(entry)
                self._wake()  # the ones behind it may fit now
            if isinstance(e, asyncio.CancelledError):
                raise
            raise Busy(f"the service's {self.what} is in use by other requests ({_mib(self.used)} of "
                       f"{_mib(self.total)} for {self.wait_s:g} s)") from None
        return nbytes

    def try_take(self, nbytes: int) -> bool:
        """Hold `nbytes` now if they are free and nobody is waiting; never waits."""
        if self._waiters or nbytes > self.free:
            return False
        self._hold(max(0, int(nbytes)))
        return True

    def give_back(self, lease: int) -> None:
        self.used -= lease
        self._wake()

    @asynccontextmanager
    async def hold(self, nbytes: int):
        lease = await self.take(nbytes)
        try:
            yield lease
        finally:
            self.give_back(lease)

    def _hold(self, nbytes: int) -> None:
        self.used += nbytes
        self.peak = max(self.peak, self.used)

    def _wake(self) -> None:
        while self._waiters:
            nbytes, waiter = self._waiters[0]
            if waiter.done():  # cancelled meanwhile
                self._waiters.popleft()
                continue
            if nbytes > self.free:
                return  # first come, first served: nobody overtakes the head of the line
            self._waiters.popleft()
            self._hold(nbytes)
            waiter.set_result(None)


def _mib(n: int) -> str:
    return f"{n / 2**20:,.0f} MiB" if n >= 2**20 else f"{n / 2**10:,.0f} KiB"
