"""Hostile and broken peers. After each, a fresh well-behaved connection still works."""

import asyncio
import random
import time

import pytest

from apikeys_client import GoAwayReason, StatusCode, framing, pb
from helpers import (
    ECHO, EMPTY, HANDSHAKE_TIMEOUT_S, IDLE_TIMEOUT_S, RawConnection, assert_server_healthy, goaways,
    reason_name, run,
)


async def expect_goaway_and_close(raw: RawConnection, reason: GoAwayReason, timeout: float = 5.0,
                                  allow_settings: bool = False):
    frames = await raw.read_until_closed(timeout)
    kinds = [f.WhichOneof("kind") for f in frames]
    if allow_settings and kinds[:1] == ["settings"]:
        frames, kinds = frames[1:], kinds[1:]
    assert kinds == ["goaway"], f"expected one GoAway then close, got {frames}"
    goaway = frames[0].goaway
    assert goaway.reason == reason, f"GoAway {reason_name(goaway.reason)} ({goaway.message!r}), want {reason.name}"
    return goaway


def hostile(server, scenario, timeout=15.0):
    async def main():
        await scenario()
        await assert_server_healthy(server.address)
    run(main(), timeout)


def test_random_bytes_instead_of_preface(server):
    async def scenario():
        rng = random.Random(20240601)
        junk = bytes([0x00]) + rng.randbytes(255)  # first byte already differs from "A"
        raw = await RawConnection.open(server.address)
        await raw.send(junk)
        await expect_goaway_and_close(raw, GoAwayReason.PROTOCOL_ERROR)
        await raw.close()
    hostile(server, scenario)


@pytest.mark.parametrize("preface", [
    b"APIKEYX\x01",
    b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
    b"apikeys\x01",
], ids=["one-letter-off", "http2", "http1", "lower-case"])
def test_wrong_preface(server, preface):
    async def scenario():
        raw = await RawConnection.open(server.address)
        await raw.send(preface)
        await expect_goaway_and_close(raw, GoAwayReason.PROTOCOL_ERROR)
        await raw.close()
    hostile(server, scenario)


def test_wrong_preface_detected_at_first_differing_byte(server):
    """"as soon as a byte differs": no need to send all 8 bytes."""
    async def scenario():
        raw = await RawConnection.open(server.address)
        await raw.send(b"APX")
        await expect_goaway_and_close(raw, GoAwayReason.PROTOCOL_ERROR, timeout=HANDSHAKE_TIMEOUT_S - 0.5)
        await raw.close()
    hostile(server, scenario)


@pytest.mark.parametrize("version", [0x00, 0x02, 0xFF])
def test_wrong_version_byte(server, version):
    async def scenario():
        raw = await RawConnection.open(server.address)
        await raw.send(framing.encode_preface(version))
        await expect_goaway_and_close(raw, GoAwayReason.UNSUPPORTED_VERSION)
        await raw.close()
    hostile(server, scenario)


def test_length_prefix_ffffffff(server):
    async def scenario():
        raw = await RawConnection.open(server.address)
        await raw.handshake()
        start = time.monotonic()
        await raw.send(b"\xff\xff\xff\xff" + b"\x00" * 16)
        goaway = await expect_goaway_and_close(raw, GoAwayReason.FRAME_TOO_LARGE, timeout=3)
        assert time.monotonic() - start < 1.5  # it did not wait for 4 GiB (nor for a timeout)
        assert goaway.last_call_id == 0
        await raw.close()
    hostile(server, scenario)


def test_length_prefix_over_max_without_body(server):
    async def scenario():
        raw = await RawConnection.open(server.address)
        settings = await raw.handshake()
        await raw.send(framing.encode_length(settings.max_frame_size + 1))
        await expect_goaway_and_close(raw, GoAwayReason.FRAME_TOO_LARGE, timeout=HANDSHAKE_TIMEOUT_S - 0.5)
        await raw.close()
    hostile(server, scenario)


def test_frame_cut_off_midway_then_close(server):
    async def scenario():
        raw = await RawConnection.open(server.address)
        await raw.handshake()
        frame = framing.encode_frame(framing.request_frame(1, ECHO, pb.EchoRequest(payload=b"x" * 100)))
        await raw.send(frame[: len(frame) // 2])
        raw.writer.write_eof()  # half-close: the server may still tell us something
        frames = await raw.read_until_closed(5)
        assert all(f.WhichOneof("kind") == "goaway" for f in frames), frames
        await raw.close()
    hostile(server, scenario)


def test_frame_cut_off_midway_then_abrupt_close(server):
    async def scenario():
        raw = await RawConnection.open(server.address)
        await raw.handshake()
        await raw.send(framing.encode_length(1000) + b"\x0a" * 10)
        await raw.close()
        await asyncio.sleep(0.1)
    hostile(server, scenario)


def test_garbage_request_message_is_invalid_argument(server):
    async def scenario():
        raw = await RawConnection.open(server.address)
        await raw.handshake()
        # Field 1 (status_code, varint) with a truncated varint, then an invalid wire type.
        await raw.send_frame(framing.request_frame(1, ECHO, b"\x08\xff\xff\x0f\xff"))
        resp = await raw.read_response(1)
        assert resp.status.code == StatusCode.INVALID_ARGUMENT, resp
        await raw.send_frame(framing.request_frame(2, ECHO, pb.EchoRequest(response_size=3)))
        resp = await raw.read_response(2)
        assert resp.status.code == StatusCode.OK
        assert pb.EchoResponse.FromString(resp.message).payload.__len__() == 3
        await raw.close()
    hostile(server, scenario)


def test_undecodable_frame_body(server):
    async def scenario():
        raw = await RawConnection.open(server.address)
        await raw.handshake()
        await raw.send(framing.encode_frame(b"\xff\xff\xff\xff\xff"))
        await expect_goaway_and_close(raw, GoAwayReason.PROTOCOL_ERROR)
        await raw.close()
    hostile(server, scenario)


def test_frame_with_no_kind(server):
    async def scenario():
        raw = await RawConnection.open(server.address)
        await raw.handshake()
        await raw.send(framing.encode_frame(b""))  # length 0: Frame{} with no kind
        await expect_goaway_and_close(raw, GoAwayReason.PROTOCOL_ERROR)
        await raw.close()
    hostile(server, scenario)


@pytest.mark.parametrize("frame", [
    pb.Frame(response=pb.Response(call_id=1, status=pb.Status(code=0))),
    pb.Frame(settings=pb.ServerSettings(protocol_version=1)),
], ids=["response", "settings"])
def test_client_sending_server_frames(server, frame):
    async def scenario():
        raw = await RawConnection.open(server.address)
        await raw.handshake()
        await raw.send_frame(frame)
        await expect_goaway_and_close(raw, GoAwayReason.PROTOCOL_ERROR)
        await raw.close()
    hostile(server, scenario)


@pytest.mark.parametrize("ids", [(0,), (2, 2), (5, 3)], ids=["zero", "repeated", "decreasing"])
def test_call_id_not_increasing(server, ids):
    async def scenario():
        raw = await RawConnection.open(server.address)
        await raw.handshake()
        for call_id in ids:
            await raw.send_frame(framing.request_frame(call_id, EMPTY))
        frames = await raw.read_until_closed(5)
        responses = [f.response.call_id for f in frames if f.WhichOneof("kind") == "response"]
        # The earlier, valid call may or may not be answered before the error GoAway and
        # close (PROTOCOL.md is ambiguous there; the server races: see the README).
        assert set(responses) <= set(ids[:-1]), frames
        [goaway] = goaways(frames)
        assert goaway.reason == GoAwayReason.PROTOCOL_ERROR
        assert frames[-1].WhichOneof("kind") == "goaway"
        await raw.close()
    hostile(server, scenario)


def test_client_ping_gets_pong_with_same_data(server):
    async def scenario():
        raw = await RawConnection.open(server.address)
        await raw.handshake()
        await raw.send_frame(framing.ping_frame(0xFFFFFFFFFFFFFFFF))
        frame = await raw.read_frame()
        assert frame.WhichOneof("kind") == "pong" and frame.pong.data == 0xFFFFFFFFFFFFFFFF
        await raw.close()
    hostile(server, scenario)


def test_silent_connection_gets_handshake_timeout(server):
    async def scenario():
        raw = await RawConnection.open(server.address)
        start = time.monotonic()
        await expect_goaway_and_close(raw, GoAwayReason.HANDSHAKE_TIMEOUT, timeout=HANDSHAKE_TIMEOUT_S + 3)
        elapsed = time.monotonic() - start
        assert HANDSHAKE_TIMEOUT_S - 0.3 <= elapsed <= HANDSHAKE_TIMEOUT_S + 2, elapsed
        await raw.close()
    hostile(server, scenario)


def test_partial_preface_gets_handshake_timeout(server):
    async def scenario():
        raw = await RawConnection.open(server.address)
        await raw.send(framing.PREFACE[:5])
        await expect_goaway_and_close(raw, GoAwayReason.HANDSHAKE_TIMEOUT, timeout=HANDSHAKE_TIMEOUT_S + 3)
        await raw.close()
    hostile(server, scenario)


def test_preface_then_nothing_gets_idle_timeout(server):
    async def scenario():
        raw = await RawConnection.open(server.address)
        await raw.send(framing.PREFACE)
        start = time.monotonic()
        goaway = await expect_goaway_and_close(raw, GoAwayReason.IDLE_TIMEOUT, timeout=IDLE_TIMEOUT_S + 3,
                                               allow_settings=True)
        elapsed = time.monotonic() - start
        assert IDLE_TIMEOUT_S - 0.3 <= elapsed <= IDLE_TIMEOUT_S + 2, elapsed
        assert goaway.last_call_id == 0
        await raw.close()
    hostile(server, scenario)


def test_call_in_flight_is_not_idle(server):
    """A connection with a call in flight is not idle, even past the idle timeout."""
    async def scenario():
        raw = await RawConnection.open(server.address)
        await raw.handshake()
        await raw.send_frame(framing.request_frame(1, ECHO, pb.EchoRequest(sleep_millis=int(IDLE_TIMEOUT_S * 1000 + 800))))
        resp = await raw.read_response(1, timeout=IDLE_TIMEOUT_S + 3)
        assert resp.status.code == StatusCode.OK
        await raw.close()
    hostile(server, scenario)


def test_client_goaway_finishes_running_calls_then_closes(server):
    async def scenario():
        raw = await RawConnection.open(server.address)
        await raw.handshake()
        await raw.send_frame(framing.request_frame(1, ECHO, pb.EchoRequest(sleep_millis=200)))
        await raw.send_frame(framing.goaway_frame(1, GoAwayReason.NO_ERROR, "bye"))
        frames = await raw.read_until_closed(5)
        responses = [f.response for f in frames if f.WhichOneof("kind") == "response"]
        assert [(r.call_id, r.status.code) for r in responses] == [(1, StatusCode.OK)], frames
        await raw.close()
    hostile(server, scenario)
