"""Low-level framing of the apikeys RPC protocol (docs/PROTOCOL.md §1, §2).

Everything here is synchronous and I/O free except :func:`read_frame`, so tests can
build exact (or deliberately broken) byte streams::

    from apikeys_client import framing, methods
    data = framing.PREFACE + framing.encode_frame(
        framing.request_frame(1, methods.get("Health", "Check").path))
"""

from __future__ import annotations

import asyncio
import struct
from typing import Iterable, Mapping

from google.protobuf.message import DecodeError

from .proto.apikeys.v1 import frame_pb2

__all__ = [
    "MAGIC", "PROTOCOL_VERSION", "PREFACE", "DEFAULT_PORT", "DEFAULT_MAX_FRAME_SIZE",
    "LENGTH_PREFIX_SIZE", "FramingError", "FrameTooLargeError", "MalformedFrameError",
    "TruncatedFrameError", "encode_preface", "encode_length", "encode_frame",
    "decode_frame_body", "FrameDecoder", "read_frame", "request_frame", "cancel_frame",
    "ping_frame", "pong_frame", "goaway_frame", "frame_kind",
]

MAGIC = b"APIKEYS"
PROTOCOL_VERSION = 1
PREFACE = MAGIC + bytes([PROTOCOL_VERSION])
DEFAULT_PORT = 7420
DEFAULT_MAX_FRAME_SIZE = 4 * 1024 * 1024
LENGTH_PREFIX_SIZE = 4
_MAX_UINT32 = 0xFFFFFFFF


class FramingError(Exception):
    """The byte stream does not follow §2."""


class FrameTooLargeError(FramingError):
    """A length prefix above the maximum frame size (detected before the body arrives)."""

    def __init__(self, length: int, max_frame_size: int):
        super().__init__(f"frame length {length} exceeds max_frame_size {max_frame_size}")
        self.length = length
        self.max_frame_size = max_frame_size


class MalformedFrameError(FramingError):
    """A body that is not a valid ``Frame`` or has no ``kind`` set."""


class TruncatedFrameError(FramingError):
    """The stream ended inside a frame."""


def encode_preface(version: int = PROTOCOL_VERSION, magic: bytes = MAGIC) -> bytes:
    """The 8-byte client preface: ``APIKEYS`` and the version byte."""
    return bytes(magic) + bytes([version])


def encode_length(length: int) -> bytes:
    """A 4-byte big-endian length prefix."""
    if not 0 <= length <= _MAX_UINT32:
        raise ValueError(f"length {length} does not fit in uint32")
    return struct.pack(">I", length)


def encode_frame(frame: frame_pb2.Frame | bytes | bytearray) -> bytes:
    """Length prefix + body. ``frame`` is a ``Frame`` message or an already encoded body."""
    body = bytes(frame) if isinstance(frame, (bytes, bytearray)) else frame.SerializeToString()
    return encode_length(len(body)) + body


def frame_kind(frame: frame_pb2.Frame) -> str | None:
    """The name of the set member of the ``kind`` oneof, or None."""
    return frame.WhichOneof("kind")


def decode_frame_body(body: bytes) -> frame_pb2.Frame:
    """Parse a frame body; raises :class:`MalformedFrameError` as the server would."""
    frame = frame_pb2.Frame()
    try:
        frame.ParseFromString(bytes(body))
    except DecodeError as exc:  # also raised for invalid UTF-8 in string fields
        raise MalformedFrameError(f"undecodable frame body: {exc}") from exc
    if frame.WhichOneof("kind") is None:
        raise MalformedFrameError("frame has no kind set")
    return frame


class FrameDecoder:
    """Incremental decoder: feed bytes in any fragments, get whole frames back.

    The length prefix is checked against ``max_frame_size`` as soon as its 4 bytes are
    there, before any body is buffered (``max_frame_size=None`` disables the check).
    With ``raw=True``, :meth:`feed` returns the undecoded bodies instead of messages.
    """

    def __init__(self, max_frame_size: int | None = DEFAULT_MAX_FRAME_SIZE, *, raw: bool = False):
        self.max_frame_size = max_frame_size
        self.raw = raw
        self._buffer = bytearray()
        self._need: int | None = None  # body length of the frame being read

    @property
    def buffered(self) -> int:
        """Bytes received but not yet returned as frames."""
        return len(self._buffer)

    def feed(self, data: bytes) -> list:
        self._buffer += data
        out = []
        buf = self._buffer
        pos = 0
        while True:
            if self._need is None:
                if len(buf) - pos < LENGTH_PREFIX_SIZE:
                    break
                (length,) = struct.unpack_from(">I", buf, pos)
                if self.max_frame_size is not None and length > self.max_frame_size:
                    del buf[:pos]
                    raise FrameTooLargeError(length, self.max_frame_size)
                pos += LENGTH_PREFIX_SIZE
                self._need = length
            if len(buf) - pos < self._need:
                break
            body = bytes(buf[pos:pos + self._need])
            pos += self._need
            self._need = None
            out.append(body if self.raw else decode_frame_body(body))
        del buf[:pos]
        return out

    def eof(self) -> None:
        """Call at end of stream: raises :class:`TruncatedFrameError` if a frame was cut off."""
        if self._buffer or self._need is not None:
            raise TruncatedFrameError(
                f"stream ended inside a frame ({len(self._buffer)} bytes buffered"
                + (f", body of {self._need} expected)" if self._need is not None else ")"))


async def read_frame(reader: asyncio.StreamReader,
                     max_frame_size: int | None = DEFAULT_MAX_FRAME_SIZE) -> frame_pb2.Frame | None:
    """Read one frame from a stream; None on a clean end of stream between frames."""
    try:
        header = await reader.readexactly(LENGTH_PREFIX_SIZE)
    except asyncio.IncompleteReadError as exc:
        if exc.partial:
            raise TruncatedFrameError("stream ended inside a length prefix") from exc
        return None
    (length,) = struct.unpack(">I", header)
    if max_frame_size is not None and length > max_frame_size:
        raise FrameTooLargeError(length, max_frame_size)
    try:
        body = await reader.readexactly(length)
    except asyncio.IncompleteReadError as exc:
        raise TruncatedFrameError(f"stream ended after {len(exc.partial)} of {length} body bytes") from exc
    return decode_frame_body(body)


# --- frame constructors -------------------------------------------------------------

def request_frame(call_id: int, method: str, message: bytes | object = b"", *,
                  metadata: Mapping[str, str] | None = None,
                  timeout_micros: int = 0) -> frame_pb2.Frame:
    """``Frame{request{...}}``; ``message`` is bytes or a protobuf message to encode."""
    if not isinstance(message, (bytes, bytearray)):
        message = message.SerializeToString()
    frame = frame_pb2.Frame()
    req = frame.request
    req.call_id = call_id
    req.method = method
    if metadata:
        req.metadata.update(metadata)
    req.timeout_micros = timeout_micros
    req.message = bytes(message)
    req.SetInParent()  # an all-default request is still "set"
    return frame


def cancel_frame(call_id: int) -> frame_pb2.Frame:
    frame = frame_pb2.Frame()
    frame.cancel.call_id = call_id
    frame.cancel.SetInParent()
    return frame


def ping_frame(data: int = 0) -> frame_pb2.Frame:
    frame = frame_pb2.Frame()
    frame.ping.data = data
    frame.ping.SetInParent()
    return frame


def pong_frame(data: int = 0) -> frame_pb2.Frame:
    frame = frame_pb2.Frame()
    frame.pong.data = data
    frame.pong.SetInParent()
    return frame


def goaway_frame(last_call_id: int = 0, reason: int = 0, message: str = "") -> frame_pb2.Frame:
    frame = frame_pb2.Frame()
    frame.goaway.last_call_id = last_call_id
    frame.goaway.reason = reason
    frame.goaway.message = message
    frame.goaway.SetInParent()
    return frame


def iter_encoded(frames: Iterable[frame_pb2.Frame]) -> bytes:
    """Concatenate several encoded frames."""
    return b"".join(encode_frame(f) for f in frames)
