"""A pool of connections to one server that replaces them as they end (docs/PROTOCOL.md §5).

The :class:`Client` calls through a :class:`Channel`. It connects lazily, on the first call
(or at once with :meth:`Channel.connect_now`), keeps up to ``pool_size`` connections,
sends each call on the least busy usable one and opens another while all are busy. A
connection that ended or got a GoAway takes no new call; the next call opens a fresh one.
Failed attempts back off exponentially with jitter, shared by every waiting call, so a
server that is down is not hammered by its clients. A call the server reports as not run
(§5: above a drain's ``last_call_id``, or never sent) is sent again on another connection;
a call whose connection broke after it was sent may have run and is not repeated.
"""

from __future__ import annotations

import asyncio
import logging
import random
import ssl as ssl_module
from typing import Mapping, TypeVar

from google.protobuf.message import Message

from . import framing
from .connection import Connection
from .errors import ConnectError, RpcError, StatusCode
from .methods import METHODS

__all__ = ["Channel"]


def _full(conn: Connection) -> bool:
    limit = conn.settings.max_concurrent_calls if conn.settings is not None else 0
    return bool(limit) and conn.in_flight >= limit

log = logging.getLogger("apikeys_client")

M = TypeVar("M", bound=Message)


class Channel:
    """Connections to ``host:port``, replaced as they end.

    ``pool_size``: most connections kept at once (a connection carries at most the
      server's ``max_concurrent_calls`` calls, 100 by default).
    ``connect_timeout``: bound on one connection's whole set-up (TCP, TLS, preface,
      settings frame): a listener that accepts and never answers costs at most this.
    ``wait_for_connection``: how long a call without a deadline waits for a usable
      connection (reconnecting with backoff meanwhile) before it fails UNAVAILABLE; a call
      with a ``timeout`` waits up to its deadline instead. Long enough to ride out a
      server restart.
    ``backoff_initial``, ``backoff_max``: delay before the next attempt after a failed
      one, doubling per failure, each delay drawn between half and all of its value.
    ``max_retries``: times one call is sent again after the server reported it not run.
    ``hedge_after``: while no connection is usable and every attempt in progress has taken
      longer than this, one more attempt starts beside them, so a socket that was accepted
      and is never answered (apikeysd's start-up port check takes connections it never
      serves) does not stall every call for ``connect_timeout``.
    ``connection_options`` go to every :class:`Connection` (``max_in_flight``,
      ``enforce_max_frame_size``, ``preface``).
    """

    def __init__(self, host: str = "127.0.0.1", port: int = framing.DEFAULT_PORT, *,
                 ssl: "ssl_module.SSLContext | None" = None, server_hostname: str | None = None,
                 pool_size: int = 2, connect_timeout: float = 10.0,
                 wait_for_connection: float = 10.0, backoff_initial: float = 0.05,
                 backoff_max: float = 2.0, max_retries: int = 10, hedge_after: float = 0.5,
                 **connection_options):
        if pool_size < 1:
            raise ValueError("pool_size must be at least 1")
        self.host = host
        self.port = port
        self.pool_size = pool_size
        self.connect_timeout = connect_timeout
        self.wait_for_connection = wait_for_connection
        self.backoff_initial = backoff_initial
        self.backoff_max = backoff_max
        self.max_retries = max_retries
        self.hedge_after = hedge_after
        self._open_options = dict(connection_options, ssl=ssl, server_hostname=server_hostname)
        self._conns: list[Connection] = []      # usable, in the order they were opened
        self._retired: list[Connection] = []    # draining or closed, kept until they end
        self._opening: dict[asyncio.Task, float] = {}  # attempt -> when it started
        self._changed: asyncio.Event | None = None  # set when an attempt ends
        self._failures = 0
        self._next_attempt = 0.0
        self._last_error: ConnectError | None = None
        self._closed = False
        #: The connection the last call went to (or the first one opened).
        self.current: Connection | None = None
        # Counters, for tests and metrics.
        self.connects = 0
        self.connect_failures = 0
        self.retries = 0              # calls the server did not run, sent again
        self.idempotent_retries = 0   # idempotent calls whose connection broke, sent again

    # --- state ------------------------------------------------------------------

    @property
    def connections(self) -> list[Connection]:
        """The usable connections."""
        self._prune()
        return list(self._conns)

    @property
    def closed(self) -> bool:
        return self._closed

    def _prune(self) -> None:
        if all(c.usable for c in self._conns):
            return
        for c in [c for c in self._conns if not c.usable]:
            self._conns.remove(c)
            if not c.closed:
                self._retired.append(c)  # finishes its calls; closed with the channel
        self._retired = [c for c in self._retired if not c.closed]

    def _notify(self) -> None:
        if self._changed is not None:
            self._changed.set()
            self._changed = None

    def _backoff_delay(self) -> float:
        delay = min(self.backoff_max, self.backoff_initial * (2 ** min(self._failures - 1, 30)))
        # Jitter keeps the clients of a restarted server from reconnecting in lockstep.
        return random.uniform(delay / 2, delay)

    # --- connecting -------------------------------------------------------------

    async def _open(self) -> Connection:
        return await Connection.open(self.host, self.port, timeout=self.connect_timeout,
                                     **self._open_options)

    async def connect_now(self) -> Connection:
        """Open one connection now (a single attempt); raises :class:`ConnectError`."""
        if self._closed:
            raise RpcError(StatusCode.CANCELLED, "the client is closed")
        conn = await self._open()
        self.connects += 1
        self._conns.append(conn)
        self.current = conn
        return conn

    def _start_attempt(self, loop: asyncio.AbstractEventLoop) -> None:
        task = loop.create_task(self._attempt(), name=f"apikeys-connect-{self.host}:{self.port}")
        self._opening[task] = loop.time()

    async def _attempt(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            conn = await self._open()
        except ConnectError as exc:
            self._failures += 1
            self.connect_failures += 1
            self._last_error = exc
            delay = self._backoff_delay()
            self._next_attempt = loop.time() + delay
            log.debug("apikeys: connection to %s:%s failed (%s); next attempt in %.3f s",
                      self.host, self.port, exc.message, delay)
        except Exception as exc:  # noqa: BLE001 - a bug must not leave waiters hanging
            self._failures += 1
            self.connect_failures += 1
            self._last_error = ConnectError(f"cannot connect to {self.host}:{self.port}: {exc!r}")
            self._next_attempt = loop.time() + self._backoff_delay()
        else:
            self._prune()
            if self._closed or len(self._conns) >= self.pool_size:  # a hedged attempt came in late
                await conn.close()
            else:
                self._failures = 0
                self._last_error = None
                self.connects += 1
                self._conns.append(conn)
                if self.current is None:
                    self.current = conn
        finally:
            self._opening.pop(asyncio.current_task(), None)
            self._notify()

    async def acquire(self, deadline: float) -> Connection:
        """A usable connection, opening one if needed; waits (with backoff between
        attempts) until ``deadline`` (loop time), then raises :class:`ConnectError`."""
        loop = asyncio.get_running_loop()
        while True:
            if self._closed:
                raise RpcError(StatusCode.CANCELLED, "the client is closed")
            self._prune()
            best = min(self._conns, key=lambda c: c.in_flight, default=None)
            now = loop.time()
            can_grow = len(self._conns) + len(self._opening) < self.pool_size
            # Grow only while every connection is busy, so sequential use keeps one.
            if (best is None or best.in_flight > 0) and can_grow and now >= self._next_attempt:
                self._start_attempt(loop)
                can_grow = len(self._conns) + len(self._opening) < self.pool_size
            hedge_at = None  # when another attempt may start beside slow ones
            if best is None and self._opening and len(self._opening) <= self.pool_size:
                hedge_at = max(max(self._opening.values()) + self.hedge_after, self._next_attempt)
                if now >= hedge_at:
                    self._start_attempt(loop)
                    hedge_at = None
            if best is not None:
                # §3: a connection at the server's max_concurrent_calls would refuse the
                # call (RESOURCE_EXHAUSTED); wait for a connection being opened instead.
                # With the pool at its size, the server's limit has the last word.
                if not _full(best) or not (self._opening or can_grow):
                    return best
            left = deadline - now
            if left <= 0:
                if best is not None:
                    return best  # full, and no other came in time: the server decides
                raise self._unavailable()
            if self._changed is None:
                self._changed = asyncio.Event()
            changed = self._changed
            wait = left
            if can_grow:  # wake when the backoff allows another attempt beside a slow one
                wait = min(left, max(0.001, self._next_attempt - now))
            if hedge_at is not None:
                wait = min(wait, max(0.001, hedge_at - now))
            try:
                await asyncio.wait_for(changed.wait(), wait)
            except asyncio.TimeoutError:
                pass

    def _unavailable(self) -> ConnectError:
        last = self._last_error
        text = f"no connection to {self.host}:{self.port}"
        if last is not None:
            error = ConnectError(f"{text}: {last.message}", last.goaway)
        else:
            error = ConnectError(f"{text} within the call's deadline or wait_for_connection")
        return error

    # --- calls ------------------------------------------------------------------

    async def call(self, method: str, request: Message, response_type: type[M], *,
                   metadata: Mapping[str, str] | None = None, timeout: float | None = None,
                   idempotent: bool | None = None) -> M:
        """One call on a pooled connection; see :meth:`Connection.call`. Raises only
        :class:`RpcError`: UNAVAILABLE when no connection could be had in time.

        A call the server did not run is sent again (up to ``max_retries``). So is one whose
        connection broke before its answer, when it is ``idempotent`` (default: the method
        table's word for ``method``; see :attr:`Method.idempotent`)."""
        if idempotent is None:
            known = METHODS.get(method)
            idempotent = known is not None and known.idempotent
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        attempt = 0
        while True:
            wait_until = deadline if deadline is not None else loop.time() + self.wait_for_connection
            conn = await self.acquire(wait_until)
            self.current = conn
            remaining = None
            if deadline is not None:
                remaining = deadline - loop.time()
                if remaining <= 0:
                    raise RpcError(StatusCode.DEADLINE_EXCEEDED, "deadline exceeded before the call was sent")
            try:
                return await conn.call(method, request, response_type, metadata=metadata, timeout=remaining)
            except RpcError as exc:
                again = exc.retryable or (idempotent and exc.connection_lost)
                if not again or self._closed or attempt >= self.max_retries:
                    raise
                attempt += 1
                if exc.retryable:
                    self.retries += 1
                else:
                    self.idempotent_retries += 1
                log.debug("apikeys: %s %s (%s); sending it again", method,
                          "not run" if exc.retryable else "lost with its connection", exc.message)

    async def ping(self, timeout: float | None = 10.0) -> float:
        loop = asyncio.get_running_loop()
        wait = timeout if timeout is not None else self.wait_for_connection
        conn = await self.acquire(loop.time() + wait)
        self.current = conn
        return await conn.ping(timeout)

    # --- closing ----------------------------------------------------------------

    async def close(self, *, graceful: bool = False, timeout: float = 5.0) -> None:
        """Close every connection; calls still waiting for a connection fail CANCELLED."""
        self._closed = True
        self._notify()
        opening = list(self._opening)
        for task in opening:
            task.cancel()
        if opening:
            await asyncio.gather(*opening, return_exceptions=True)
        conns, self._conns = self._conns + self._retired, []
        self._retired = []
        await asyncio.gather(*(c.close(graceful=graceful, timeout=timeout) for c in conns),
                             return_exceptions=True)
