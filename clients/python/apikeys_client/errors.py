"""Status codes and the errors raised by the client."""

from __future__ import annotations

import enum

from google.protobuf.message import DecodeError

from .proto.apikeys.v1 import frame_pb2

__all__ = ["StatusCode", "GoAwayReason", "RpcError", "ConnectError"]


class StatusCode(enum.IntEnum):
    """gRPC's status codes: same names, same numbers (``Code`` in frame.proto)."""

    OK = 0
    CANCELLED = 1
    UNKNOWN = 2
    INVALID_ARGUMENT = 3
    DEADLINE_EXCEEDED = 4
    NOT_FOUND = 5
    ALREADY_EXISTS = 6
    PERMISSION_DENIED = 7
    RESOURCE_EXHAUSTED = 8
    FAILED_PRECONDITION = 9
    ABORTED = 10
    OUT_OF_RANGE = 11
    UNIMPLEMENTED = 12
    INTERNAL = 13
    UNAVAILABLE = 14
    DATA_LOSS = 15
    UNAUTHENTICATED = 16

    @classmethod
    def of(cls, value: int) -> "StatusCode | int":
        """The member for ``value``, or the plain int for a code this client does not know."""
        try:
            return cls(value)
        except ValueError:
            return value


class GoAwayReason(enum.IntEnum):
    """``GoAwayReason`` of frame.proto without the ``GOAWAY_`` prefix."""

    NO_ERROR = 0
    PROTOCOL_ERROR = 1
    FRAME_TOO_LARGE = 2
    UNSUPPORTED_VERSION = 3
    IDLE_TIMEOUT = 4
    HANDSHAKE_TIMEOUT = 5
    KEEPALIVE_TIMEOUT = 6
    TOO_MANY_CONNECTIONS = 7


class RpcError(Exception):
    """A call that did not end with OK.

    ``details`` is the decoded ``ErrorDetails`` (``rule``, ``reason``) when the server sent
    some, else None; ``raw_details`` keeps the bytes as received.
    """

    #: True when the call is known not to have run at the server (never sent, or refused
    #: during a graceful GoAway drain) and another connection may succeed: the pooled
    #: client retries such calls itself, so callers rarely see it set.
    retryable = False
    #: True when the connection ended after the call was sent and before its answer: it
    #: may or may not have run. The pooled client sends only idempotent methods again.
    connection_lost = False

    def __init__(self, code: int, message: str = "", details: "frame_pb2.ErrorDetails | bytes | None" = None,
                 *, retryable: bool = False):
        self.code = StatusCode.of(code)
        self.retryable = retryable
        self.message = message
        if isinstance(details, (bytes, bytearray)):
            self.raw_details = bytes(details)
            self.details = _decode_details(self.raw_details)
        else:
            self.details = details
            self.raw_details = details.SerializeToString() if details is not None else b""
        name = self.code.name if isinstance(self.code, StatusCode) else str(self.code)
        text = f"{name}: {message}"
        if self.details is not None and (self.details.rule or self.details.reason):
            text += f" [rule={self.details.rule!r} reason={self.details.reason!r}]"
        super().__init__(text)

    @property
    def rule(self) -> str:
        return self.details.rule if self.details is not None else ""

    @property
    def reason(self) -> str:
        return self.details.reason if self.details is not None else ""

    @classmethod
    def from_status(cls, status: frame_pb2.Status) -> "RpcError":
        return cls(status.code, status.message, status.details)


class ConnectError(RpcError, ConnectionError):
    """The connection could not be set up (refused, TLS failure, no settings frame within
    the handshake timeout): an :class:`RpcError` with code UNAVAILABLE, so callers catch one
    type. It stays a :class:`ConnectionError` too, for code written against the first
    client. ``goaway`` holds the server's GoAway if it sent one (e.g. TOO_MANY_CONNECTIONS),
    and ``reason`` is then its :class:`GoAwayReason` (None otherwise)."""

    def __init__(self, message: str, goaway: "frame_pb2.GoAway | None" = None):
        RpcError.__init__(self, StatusCode.UNAVAILABLE, message, retryable=True)
        self.goaway = goaway

    def __str__(self) -> str:
        return f"UNAVAILABLE: {self.message}"

    @property
    def reason(self) -> "GoAwayReason | None":  # type: ignore[override]
        return GoAwayReason(self.goaway.reason) if self.goaway is not None else None


def _decode_details(raw: bytes) -> "frame_pb2.ErrorDetails | None":
    if not raw:
        return None
    try:
        return frame_pb2.ErrorDetails.FromString(raw)
    except DecodeError:
        return None
