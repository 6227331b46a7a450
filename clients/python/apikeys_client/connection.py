"""One client connection: preface, settings, call multiplexing, ping, GoAway, close."""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import ssl as ssl_module
from typing import Mapping, TypeVar

from google.protobuf.message import DecodeError, Message

from . import framing
from .errors import ConnectError, GoAwayReason, RpcError, StatusCode
from .proto.apikeys.v1 import frame_pb2

__all__ = ["Connection"]

log = logging.getLogger("apikeys_client")

M = TypeVar("M", bound=Message)

_READ_CHUNK = 256 * 1024


# GoAway reasons after which a call above last_call_id may be sent again on another
# connection: the server refused it for its own state (shutting down, idle, keepalive),
# not for anything in the call. After PROTOCOL_ERROR, FRAME_TOO_LARGE or
# UNSUPPORTED_VERSION the same bytes would be refused again.
RETRYABLE_GOAWAY_REASONS = frozenset({
    GoAwayReason.NO_ERROR, GoAwayReason.IDLE_TIMEOUT, GoAwayReason.KEEPALIVE_TIMEOUT,
    GoAwayReason.HANDSHAKE_TIMEOUT,
})


def _reason_name(reason: int) -> str:
    try:
        return "GOAWAY_" + GoAwayReason(reason).name
    except ValueError:
        return f"GoAwayReason({reason})"


def _check_metadata(metadata: Mapping[str, str]) -> None:
    """§4: keys are lower-case ASCII, values UTF-8 without NUL."""
    for key, value in metadata.items():
        if not key or not key.isascii() or key != key.lower():
            raise ValueError(f"metadata key {key!r} is not lower-case ASCII")
        if not isinstance(value, str) or "\0" in value:
            raise ValueError(f"metadata value of {key!r} must be a str without NUL")


class Connection:
    """A multiplexed connection to ``apikeysd`` (docs/PROTOCOL.md).

    Open with :meth:`open`. Calls may run concurrently; each gets the next call ID
    (1, 2, 3, ...), and its response is matched by call ID. A reader task answers the
    server's pings and handles GoAway.

    Options:
      ``max_in_flight``: if set, at most that many calls are sent at once; the rest wait
        on the client (the server answers RESOURCE_EXHAUSTED beyond its
        ``max_concurrent_calls``). Default None: no client-side limit.
      ``enforce_max_frame_size``: refuse locally (RESOURCE_EXHAUSTED) a request frame
        larger than the server's ``max_frame_size`` instead of sending it (default True;
        the server would answer it with GoAway GOAWAY_FRAME_TOO_LARGE and close).
    """

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *,
                 max_in_flight: int | None = None, enforce_max_frame_size: bool = True):
        self._reader = reader
        self._writer = writer
        self._loop = asyncio.get_running_loop()
        self._pending: dict[int, asyncio.Future] = {}
        self._next_call_id = 1
        self._slots = asyncio.Semaphore(max_in_flight) if max_in_flight else None
        self.enforce_max_frame_size = enforce_max_frame_size
        self._settings_fut: asyncio.Future = self._loop.create_future()
        self._settings_fut.add_done_callback(lambda f: f.cancelled() or f.exception())
        self._pings: dict[int, asyncio.Future] = {}
        self._ping_ids = itertools.count(1)
        self._closed_event = asyncio.Event()
        self._reader_task: asyncio.Task | None = None
        self._close_reason: str | None = None
        self._close_code = StatusCode.UNAVAILABLE
        #: The server's ``ServerSettings`` (set once :meth:`open` returns).
        self.settings: frame_pb2.ServerSettings | None = None
        #: The last ``GoAway`` the server sent, if any.
        self.goaway: frame_pb2.GoAway | None = None
        #: True once a GoAway was received or sent: no new calls are started.
        self.draining = False
        # Counters, handy in tests.
        self.calls_started = 0
        self.cancels_sent = 0
        self.pings_answered = 0

    # --- set-up -----------------------------------------------------------------

    @classmethod
    async def open(cls, host: str = "127.0.0.1", port: int = framing.DEFAULT_PORT, *,
                   timeout: float | None = 10.0, preface: bytes = framing.PREFACE,
                   ssl: "ssl_module.SSLContext | None" = None, server_hostname: str | None = None,
                   **options) -> "Connection":
        """Connect, send the preface and wait for the server's settings frame.

        ``ssl`` (an :class:`ssl.SSLContext`) connects with TLS; it and ``server_hostname``
        go to :func:`asyncio.open_connection` as they are. For mutual TLS, load the client
        certificate into the context (``ctx.load_cert_chain(cert, key)``).

        ``timeout`` bounds the whole set-up (TCP, TLS, preface, settings): a listener that
        accepts and never answers costs at most that long.

        Raises :class:`ConnectError` (an :class:`RpcError` UNAVAILABLE; with the server's
        GoAway when it sent one, e.g. ``GOAWAY_TOO_MANY_CONNECTIONS``) if no settings
        arrive: refused, unreachable, TLS failures and timeouts alike.
        """
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout

        def left() -> float | None:
            return None if deadline is None else max(0.0, deadline - loop.time())

        tls = {} if ssl is None else {"ssl": ssl, "server_hostname": server_hostname}
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(host, port, limit=_READ_CHUNK, **tls), left())
        except asyncio.TimeoutError as exc:
            raise ConnectError(f"connect to {host}:{port} timed out after {timeout} s") from exc
        except (OSError, EOFError) as exc:  # refused, unreachable, DNS, TLS (ssl.SSLError is an OSError)
            # asyncio words a refusal "Connect call failed"; the errno's own text says why.
            why = os.strerror(exc.errno) if isinstance(exc, OSError) and exc.errno and not isinstance(
                exc, ssl_module.SSLError) else str(exc) or type(exc).__name__
            raise ConnectError(f"cannot connect to {host}:{port}: {why}") from exc
        conn = cls(reader, writer, **options)
        writer.write(preface)
        conn._reader_task = asyncio.create_task(conn._read_loop(), name=f"apikeys-reader-{host}:{port}")
        try:
            await asyncio.wait_for(asyncio.shield(conn._settings_fut), left())
        except asyncio.TimeoutError as exc:
            await conn.close()
            raise ConnectError(f"handshake with {host}:{port} timed out: no settings frame within "
                               f"{timeout} s") from exc
        except BaseException:
            await conn.close()
            raise
        return conn

    # --- state ------------------------------------------------------------------

    @property
    def closed(self) -> bool:
        return self._closed_event.is_set()

    @property
    def max_frame_size(self) -> int:
        if self.settings is not None and self.settings.max_frame_size:
            return self.settings.max_frame_size
        return framing.DEFAULT_MAX_FRAME_SIZE

    @property
    def in_flight(self) -> int:
        """Calls sent and not yet answered, cancelled or timed out."""
        return len(self._pending)

    @property
    def usable(self) -> bool:
        """Open and not draining: new calls may start here."""
        return not self.closed and not self.draining

    @property
    def next_call_id(self) -> int:
        return self._next_call_id

    async def wait_closed(self) -> None:
        await self._closed_event.wait()

    # --- calls ------------------------------------------------------------------

    async def call(self, method: str, request: Message, response_type: type[M], *,
                   metadata: Mapping[str, str] | None = None,
                   timeout: float | None = None) -> M:
        """Run one call; return the decoded response or raise :class:`RpcError`.

        ``timeout`` (seconds) is sent as ``timeout_micros`` and also enforced here:
        when it passes first, the call is cancelled on the server and
        DEADLINE_EXCEEDED raised. Cancelling the awaiting task sends a Cancel frame.
        """
        response = await self.call_raw(method, request.SerializeToString(),
                                       metadata=metadata, timeout=timeout)
        if response.status.code != StatusCode.OK:
            error = RpcError.from_status(response.status)
            # §5: during a drain the server answers a call above last_call_id UNAVAILABLE
            # without running it.
            if (error.code == StatusCode.UNAVAILABLE and self.goaway is not None
                    and response.call_id > self.goaway.last_call_id):
                error.retryable = self.goaway.reason in RETRYABLE_GOAWAY_REASONS
            raise error
        try:
            return response_type.FromString(response.message)
        except DecodeError as exc:
            raise RpcError(StatusCode.INTERNAL,
                           f"cannot decode {response_type.DESCRIPTOR.full_name} from the response to "
                           f"{method}: {exc}") from exc

    async def call_raw(self, method: str, message: bytes = b"", *,
                       metadata: Mapping[str, str] | None = None,
                       timeout: float | None = None) -> frame_pb2.Response:
        """Like :meth:`call` with the request already encoded; returns the ``Response``
        whatever its status (transport failures and the client-side deadline still raise)."""
        deadline = None if timeout is None else self._loop.time() + timeout
        if metadata:
            _check_metadata(metadata)
        if self._slots is not None:
            if deadline is None:
                await self._slots.acquire()
            else:
                try:
                    await asyncio.wait_for(self._slots.acquire(), max(0.0, deadline - self._loop.time()))
                except asyncio.TimeoutError:
                    raise RpcError(StatusCode.DEADLINE_EXCEEDED,
                                   "deadline exceeded while waiting for a free call slot") from None
        try:
            return await self._run_call(method, message, metadata, deadline)
        finally:
            if self._slots is not None:
                self._slots.release()

    async def _run_call(self, method, message, metadata, deadline) -> frame_pb2.Response:
        self._check_can_start()
        timeout_micros = 0
        if deadline is not None:
            remaining = deadline - self._loop.time()
            if remaining <= 0:
                raise RpcError(StatusCode.DEADLINE_EXCEEDED, "deadline exceeded before the call was sent")
            timeout_micros = max(1, int(remaining * 1_000_000))
        call_id = self._next_call_id
        self._next_call_id += 1
        data = framing.encode_frame(framing.request_frame(
            call_id, method, message, metadata=metadata, timeout_micros=timeout_micros))
        body_size = len(data) - framing.LENGTH_PREFIX_SIZE
        if self.enforce_max_frame_size and body_size > self.max_frame_size:
            raise RpcError(StatusCode.RESOURCE_EXHAUSTED,
                           f"request frame of {body_size} bytes exceeds the server's max_frame_size "
                           f"{self.max_frame_size}")
        fut = self._loop.create_future()
        self._pending[call_id] = fut
        # No await between taking the call ID and writing: frames leave in call-ID order.
        self._writer.write(data)
        self.calls_started += 1
        try:
            if deadline is None:
                await self._drain()
                return await fut
            return await asyncio.wait_for(self._drain_then(fut), max(0.0, deadline - self._loop.time()))
        except asyncio.TimeoutError:
            self._abandon(call_id)
            raise RpcError(StatusCode.DEADLINE_EXCEEDED,
                           f"deadline exceeded (client side) for call {call_id} {method}") from None
        except asyncio.CancelledError:
            self._abandon(call_id)
            raise

    async def _drain_then(self, fut: asyncio.Future):
        await self._drain()
        return await fut

    async def _drain(self) -> None:
        try:
            await self._writer.drain()
        except (ConnectionError, OSError):
            pass  # the reader sees the end of the connection and fails the pending calls

    def _check_can_start(self) -> None:
        # Nothing was sent: another connection may take the call.
        if self.closed:
            raise RpcError(StatusCode.UNAVAILABLE, self._close_reason or "connection is closed",
                           retryable=True)
        if self.draining:
            raise RpcError(StatusCode.UNAVAILABLE, "connection is draining after GoAway"
                           + (f" ({_reason_name(self.goaway.reason)}: {self.goaway.message})"
                              if self.goaway is not None else ""), retryable=True)

    def _abandon(self, call_id: int) -> bool:
        """Forget a call the caller stopped waiting for; tell the server with Cancel.
        Returns False if the call was no longer pending."""
        fut = self._pending.pop(call_id, None)
        if fut is None:
            return False
        if not fut.done():
            fut.cancel()
        if not self.closed and not self._writer.is_closing():
            self._writer.write(framing.encode_frame(framing.cancel_frame(call_id)))
            self.cancels_sent += 1
        return True

    # --- other frames -----------------------------------------------------------

    async def ping(self, timeout: float | None = 10.0) -> float:
        """Send a Ping and wait for its Pong; returns the round trip in seconds."""
        if self.closed:
            raise RpcError(StatusCode.UNAVAILABLE, self._close_reason or "connection is closed")
        data = next(self._ping_ids)
        fut = self._loop.create_future()
        self._pings[data] = fut
        start = self._loop.time()
        self._writer.write(framing.encode_frame(framing.ping_frame(data)))
        try:
            await asyncio.wait_for(fut, timeout)
        except asyncio.TimeoutError:
            raise RpcError(StatusCode.DEADLINE_EXCEEDED, f"no pong within {timeout} s") from None
        finally:
            self._pings.pop(data, None)
        return self._loop.time() - start

    def write_raw(self, data: bytes) -> None:
        """Write arbitrary bytes on the connection (for protocol tests)."""
        self._writer.write(data)

    def send_goaway(self, reason: int = GoAwayReason.NO_ERROR, message: str = "") -> None:
        """Tell the server this client starts no more calls; running calls finish."""
        self.draining = True
        if not self.closed and not self._writer.is_closing():
            self._writer.write(framing.encode_frame(
                framing.goaway_frame(max(0, self._next_call_id - 1), reason, message)))

    async def close(self, *, graceful: bool = False, timeout: float = 5.0) -> None:
        """Close the connection.

        With ``graceful=True``, first send GoAway and wait (up to ``timeout``) for the
        running calls to be answered. Calls still pending at close fail with CANCELLED.
        """
        if graceful and not self.closed:
            self.send_goaway()
            pending = [f for f in self._pending.values() if not f.done()]
            if pending:
                await asyncio.wait(pending, timeout=timeout)
        self._shutdown(StatusCode.CANCELLED, "connection closed by the client")
        try:
            self._writer.close()
            await asyncio.wait_for(self._writer.wait_closed(), 2.0)
        except (ConnectionError, OSError, asyncio.TimeoutError):
            pass
        if self._reader_task is not None and not self._reader_task.done():
            self._reader_task.cancel()
            try:
                await self._reader_task
            except (asyncio.CancelledError, Exception):
                pass

    async def __aenter__(self) -> "Connection":
        return self

    async def __aexit__(self, *exc) -> None:
        await self.close()

    # --- reader -----------------------------------------------------------------

    async def _read_loop(self) -> None:
        decoder = framing.FrameDecoder(framing.DEFAULT_MAX_FRAME_SIZE)
        code, reason = StatusCode.UNAVAILABLE, "connection closed by the server"
        try:
            while True:
                chunk = await self._reader.read(_READ_CHUNK)
                if not chunk:
                    decoder.eof()
                    break
                for frame in decoder.feed(chunk):
                    self._dispatch(frame, decoder)
        except asyncio.CancelledError:
            code, reason = StatusCode.CANCELLED, "connection closed by the client"
            raise
        except framing.FramingError as exc:
            code, reason = StatusCode.INTERNAL, f"the server broke the protocol: {exc}"
            log.warning("%s", reason)
        except (ConnectionError, OSError) as exc:
            reason = f"connection lost: {exc!r}"
            # StreamReader raises a reset before handing over what it had buffered: a
            # GoAway or answers may be in there, read them first.
            leftover = bytes(getattr(self._reader, "_buffer", b""))
            if leftover:
                try:
                    for frame in decoder.feed(leftover):
                        self._dispatch(frame, decoder)
                except framing.FramingError:
                    pass
        finally:
            if self.goaway is not None and self.goaway.reason != GoAwayReason.NO_ERROR:
                reason += f" after GoAway {_reason_name(self.goaway.reason)}: {self.goaway.message}"
            self._shutdown(code, reason)
            try:
                self._writer.close()
            except Exception:  # pragma: no cover - best effort
                pass

    def _dispatch(self, frame: frame_pb2.Frame, decoder: framing.FrameDecoder) -> None:
        kind = frame.WhichOneof("kind")
        if kind == "response":
            fut = self._pending.pop(frame.response.call_id, None)
            if fut is not None and not fut.done():
                fut.set_result(frame.response)
            # else: a call we gave up on (cancelled, timed out): drop it
        elif kind == "ping":
            if not self._writer.is_closing():
                self._writer.write(framing.encode_frame(framing.pong_frame(frame.ping.data)))
                self.pings_answered += 1
        elif kind == "pong":
            fut = self._pings.get(frame.pong.data)
            if fut is not None and not fut.done():
                fut.set_result(None)
        elif kind == "goaway":
            self._on_goaway(frame.goaway)
        elif kind == "settings":
            if self.settings is None:
                self.settings = frame.settings
                decoder.max_frame_size = max(framing.DEFAULT_MAX_FRAME_SIZE, frame.settings.max_frame_size)
                if not self._settings_fut.done():
                    self._settings_fut.set_result(frame.settings)
        else:  # request or cancel: only clients send those
            raise framing.MalformedFrameError(f"server sent a {kind} frame")

    def _on_goaway(self, goaway: frame_pb2.GoAway) -> None:
        self.goaway = goaway
        self.draining = True
        text = f"server sent GoAway {_reason_name(goaway.reason)}"
        if goaway.message:
            text += f": {goaway.message}"
        retryable = goaway.reason in RETRYABLE_GOAWAY_REASONS
        for call_id in [c for c in self._pending if c > goaway.last_call_id]:
            fut = self._pending.pop(call_id)
            if not fut.done():
                fut.set_exception(RpcError(
                    StatusCode.UNAVAILABLE,
                    f"{text}; call {call_id} is above last_call_id {goaway.last_call_id} and was not run",
                    retryable=retryable))

    def _shutdown(self, code: StatusCode, reason: str) -> None:
        if self.closed:
            return
        self._close_reason = reason
        self._close_code = code
        self._closed_event.set()
        pending, self._pending = self._pending, {}
        # A call the server never accepted (above a drain's last_call_id) did not run; one
        # without an answer otherwise may have, and is the caller's to retry or not.
        not_run_above = (self.goaway.last_call_id if self.goaway is not None
                         and self.goaway.reason in RETRYABLE_GOAWAY_REASONS else None)
        for call_id, fut in pending.items():
            if not fut.done():
                error = RpcError(code, reason, retryable=not_run_above is not None
                                 and call_id > not_run_above and code == StatusCode.UNAVAILABLE)
                error.connection_lost = code == StatusCode.UNAVAILABLE
                fut.set_exception(error)
        for fut in self._pings.values():
            if not fut.done():
                fut.set_exception(RpcError(code, reason))
        if not self._settings_fut.done():
            self._settings_fut.set_exception(ConnectError(
                f"connection ended before the server's settings: {reason}", self.goaway))
