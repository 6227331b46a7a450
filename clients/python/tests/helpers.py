"""Helpers shared by the tests: an event-loop runner and a raw protocol connection."""

from __future__ import annotations

import asyncio
import atexit
import os
import tempfile

from apikeys_client import Client, framing, methods, pb
from apikeys_client.proto.apikeys.v1 import frame_pb2

# The session server's short timeouts (seconds), so the hostile tests finish quickly.
HANDSHAKE_TIMEOUT_S = 2
IDLE_TIMEOUT_S = 2
MAX_CONCURRENT_CALLS = 100

# Paths from the method table (read from the proto's service descriptors).
ECHO = methods.get("Conformance", "Echo").path
EMPTY = methods.get("Conformance", "Empty").path
HEALTH = methods.get("Health", "Check").path


def secret_file(content: str) -> str:
    """A new file, mode 0600, holding ``content``: apikeysd takes secrets from files or the
    environment, never from argv, where ``ps`` shows them (X18). Removed at exit."""
    fd, path = tempfile.mkstemp(prefix="apikeys-secret-")
    with os.fdopen(fd, "w") as f:
        f.write(content)
    atexit.register(lambda: os.path.exists(path) and os.unlink(path))
    return path


def run(coro, timeout: float = 30.0):
    """Run a coroutine in a fresh event loop with an overall timeout."""
    async def guarded():
        return await asyncio.wait_for(coro, timeout)
    return asyncio.run(guarded())


class RawConnection:
    """A socket speaking bytes and frames, with no client logic: for hostile tests."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        self.reader = reader
        self.writer = writer
        self.reset = False  # the peer reset the connection

    @classmethod
    async def open(cls, address) -> "RawConnection":
        reader, writer = await asyncio.open_connection(*address)
        return cls(reader, writer)

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def send_frame(self, frame: frame_pb2.Frame) -> None:
        await self.send(framing.encode_frame(frame))

    async def handshake(self, timeout: float = 5.0) -> frame_pb2.ServerSettings:
        """Send the preface and return the settings frame."""
        await self.send(framing.PREFACE)
        frame = await self.read_frame(timeout)
        assert frame is not None, "connection closed instead of settings"
        assert frame.WhichOneof("kind") == "settings", f"expected settings, got {frame}"
        return frame.settings

    async def read_frame(self, timeout: float = 5.0) -> frame_pb2.Frame | None:
        """The next frame, or None at end of stream (clean close or reset)."""
        try:
            return await asyncio.wait_for(framing.read_frame(self.reader, None), timeout)
        except (ConnectionResetError, BrokenPipeError):
            self.reset = True
            return None

    async def read_response(self, call_id: int | None = None, timeout: float = 5.0) -> frame_pb2.Response:
        """Skip pings/settings until a response (for ``call_id`` if given)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            frame = await self.read_frame(max(0.0, deadline - loop.time()))
            assert frame is not None, "connection closed while waiting for a response"
            kind = frame.WhichOneof("kind")
            if kind == "response" and (call_id is None or frame.response.call_id == call_id):
                return frame.response
            assert kind in ("settings", "ping", "response"), f"unexpected frame {frame}"

    async def read_until_closed(self, timeout: float = 5.0) -> list[frame_pb2.Frame]:
        """All frames until the server closes; fails if it does not close in time."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        frames = []
        while True:
            left = deadline - loop.time()
            if left <= 0:
                raise AssertionError(f"server did not close the connection within {timeout} s; got {frames}")
            try:
                frame = await self.read_frame(left)
            except asyncio.TimeoutError:
                raise AssertionError(
                    f"server did not close the connection within {timeout} s; got {frames}") from None
            if frame is None:
                return frames
            frames.append(frame)

    async def close(self) -> None:
        self.writer.close()
        try:
            await self.writer.wait_closed()
        except (ConnectionError, OSError):
            pass


def goaways(frames) -> list[frame_pb2.GoAway]:
    return [f.goaway for f in frames if f.WhichOneof("kind") == "goaway"]


def reason_name(reason: int) -> str:
    return frame_pb2.GoAwayReason.Name(reason) if reason in frame_pb2.GoAwayReason.values() else str(reason)


async def assert_server_healthy(address) -> None:
    """A fresh, well-behaved connection still works."""
    client = await Client.connect(*address, timeout=5)
    try:
        resp = await client.health.check(timeout=5)
        assert resp.status == pb.HealthCheckResponse.SERVING
        await client.conformance.empty(timeout=5)
    finally:
        await client.close()
