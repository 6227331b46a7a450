"""Hostile clients against the real apikeysd (the hardening issue; RELIABILITY.md).

For each attack: a clear status or a clean close, the server's memory stays bounded (VmRSS
from /proc), and a well-behaved client in another process keeps a normal latency meanwhile.
Figures are printed (run with ``-s`` to see them) and collected in RELIABILITY.md.
"""

from __future__ import annotations

import asyncio
import os
import socket
import time

import pytest

from apikeys_client import Client, GoAwayReason, StatusCode, framing, methods, pb
from apikeys_client.proto.apikeys.v1 import conformance_pb2, keys_pb2
from conftest import start_server
from helpers import ECHO, HEALTH, RawConnection, goaways, reason_name, run
from test_operations import http_get, http_port, wait_for
from reliability import (
    MIB, SERVICE_ARGS, SERVICE_SECRET, LatencyProbe, assert_latency_bounded, fd_count, measure_latency,
    provision, rss_bytes, summary_ms,
)

#: Calls in flight per connection on the hostile server: small, so limits are easy to reach.
LIMIT = 8
GENERATE = methods.get("Keys", "Generate").path
RENAME = methods.get("Keys", "Rename").path
LIST = methods.get("Keys", "List").path
GET = methods.get("Keys", "Get").path
REVOKE_MANY = methods.get("Keys", "RevokeMany").path
#: Memory an attack may add to the server, at most (the issue's bound).
RSS_BOUND = 200 * MIB


def figure(name: str, **values) -> None:
    print(f"\n[reliability] {name}: " + ", ".join(f"{k}={v}" for k, v in values.items()))


@pytest.fixture(scope="module")
def hostile_server(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("hostile") / "data"
    data_dir.mkdir()
    srv = start_server(str(data_dir), "--idle-timeout", "20", "--handshake-timeout", "10",
                       "--max-concurrent-calls", str(LIMIT), *SERVICE_ARGS)
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture(scope="module")
def tenant_setup(hostile_server):
    """Provisions acme/alice (admin + developer) once; returns the metadata to act as alice."""
    async def main():
        t = await provision(hostile_server.address, hostile_server.operator_credential)
        key = await t.admin.keys.generate(name="existing")
        await t.operator.close()
        return key.key.id
    key_id = run(main())
    return {
        "metadata": {"authorization": f"Service {SERVICE_SECRET}", "x-tenant-id": "acme", "x-user-id": "alice"},
        "key_id": key_id,
    }


@pytest.fixture(scope="module")
def baseline(hostile_server):
    """Health latency of a well-behaved client with nothing else going on."""
    result = measure_latency(hostile_server.address, 1.0)
    figure("baseline health latency", **summary_ms(result["latencies"]))
    return result


def attack(server, baseline, scenario, *, timeout=60.0, bound_ms=250.0, rss_bound=RSS_BOUND):
    """Runs ``scenario`` with the latency probe going; checks latency, memory and health."""
    pid = server.process.pid
    rss_before = rss_bytes(pid)
    peak = [rss_before]

    async def sample_rss():
        while True:
            peak[0] = max(peak[0], rss_bytes(pid))
            await asyncio.sleep(0.05)

    async def main():
        sampler = asyncio.create_task(sample_rss())
        try:
            return await scenario()
        finally:
            sampler.cancel()

    with LatencyProbe(server.address) as probe:
        result = run(main(), timeout)
        during = probe.stop()
    rss_after = rss_bytes(pid)
    stats = summary_ms(during["latencies"])
    figure(scenario.__name__, health=stats,
           rss_before_mib=round(rss_before / MIB, 1), rss_peak_mib=round(peak[0] / MIB, 1),
           rss_after_mib=round(rss_after / MIB, 1))
    assert server.process.poll() is None, f"apikeysd died: {server.stderr_tail()}"
    assert_latency_bounded(baseline, during, bound_ms=bound_ms)
    assert peak[0] - rss_before < rss_bound, \
        f"server RSS grew by {(peak[0] - rss_before) / MIB:.0f} MiB (bound {rss_bound / MIB:.0f} MiB)"
    run(_healthy(server.address))
    return result


async def _healthy(address):
    async with await Client.connect(*address, timeout=5) as client:
        resp = await client.health.check(timeout=5)
        assert resp.status == pb.HealthCheckResponse.SERVING


def request(call_id, method, message=b"", metadata=None):
    return framing.encode_frame(framing.request_frame(call_id, method, message, metadata=metadata))


# --- slow senders ------------------------------------------------------------------------

def test_slow_senders_one_byte_at_a_time(hostile_server, baseline):
    """20 clients trickle a valid request a byte at a time (10 ms apart): each is answered."""
    async def slow_senders():
        async def one(i):
            raw = await RawConnection.open(hostile_server.address)
            await raw.handshake()
            data = request(1, ECHO, pb.EchoRequest(payload=bytes([i]) * 40, response_size=7 + i))
            for b in data:
                raw.writer.write(bytes([b]))
                await raw.writer.drain()
                await asyncio.sleep(0.01)
            resp = await raw.read_response(1, timeout=5)
            await raw.close()
            return resp, len(data)
        results = await asyncio.gather(*(one(i) for i in range(20)))
        for i, (resp, _) in enumerate(results):
            assert resp.status.code == StatusCode.OK, resp
            assert len(pb.EchoResponse.FromString(resp.message).payload) == 7 + i
        return results[0][1]
    size = attack(hostile_server, baseline, slow_senders)
    figure("slow sender", frame_bytes=size, byte_interval_ms=10, connections=20)


def test_slowloris_past_the_idle_timeout_is_closed(server_factory):
    """A client that trickles one byte every 0.3 s forever does not hold its connection:
    the idle timeout (no complete frame) closes it with a GoAway."""
    srv = server_factory("--idle-timeout", "1.5")

    async def main():
        raw = await RawConnection.open(srv.address)
        await raw.handshake()
        data = request(1, ECHO, pb.EchoRequest(payload=b"x" * 500))
        start = time.monotonic()
        frames = []

        async def trickle():
            for b in data:
                raw.writer.write(bytes([b]))
                await raw.writer.drain()
                await asyncio.sleep(0.3)

        sender = asyncio.create_task(trickle())
        try:
            frames = await raw.read_until_closed(8)
        finally:
            sender.cancel()
        elapsed = time.monotonic() - start
        [goaway] = goaways(frames)
        figure("slowloris", closed_after_s=round(elapsed, 2), reason=reason_name(goaway.reason))
        assert goaway.reason == GoAwayReason.IDLE_TIMEOUT
        assert elapsed < 5
        await raw.close()
    run(main())


# --- connections ---------------------------------------------------------------------------

def test_many_idle_connections(server_factory):
    """500 connections that send the preface and nothing else: the server stays responsive,
    each costs little memory, and the idle timeout closes them all (descriptors released)."""
    srv = server_factory("--idle-timeout", "3")
    base = measure_latency(srv.address, 0.5)
    pid = srv.process.pid
    fds_before, rss_before = fd_count(pid), rss_bytes(pid)
    count = 500

    async def main():
        raws = []
        for _ in range(count):
            raw = await RawConnection.open(srv.address)
            await raw.send(framing.PREFACE)
            raws.append(raw)
        for raw in raws:
            frame = await raw.read_frame(5)
            assert frame.WhichOneof("kind") == "settings"
        fds_open, rss_open = fd_count(pid), rss_bytes(pid)
        probe = LatencyProbe(srv.address).start()
        await asyncio.sleep(1.0)
        during = probe.stop()
        # The idle timeout closes every one of them with a GoAway.
        closed = await asyncio.gather(*(raw.read_until_closed(8) for raw in raws))
        reasons = {reason_name(g.reason) for frames in closed for g in goaways(frames)}
        for raw in raws:
            await raw.close()
        return fds_open, rss_open, during, reasons

    fds_open, rss_open, during, reasons = run(main(), 60)
    await_fds = time.monotonic() + 5
    while fd_count(pid) > fds_before + 5 and time.monotonic() < await_fds:
        time.sleep(0.05)
    fds_after = fd_count(pid)
    figure("idle connections", connections=count, fds_before=fds_before, fds_open=fds_open, fds_after=fds_after,
           rss_per_connection_kib=round((rss_open - rss_before) / count / 1024, 1),
           health=summary_ms(during["latencies"]), goaway=sorted(reasons))
    assert fds_open >= fds_before + count
    assert reasons == {"GOAWAY_IDLE_TIMEOUT"}
    assert fds_after <= fds_before + 5, f"{fds_after - fds_before} descriptors still open after the idle timeout"
    assert rss_open - rss_before < RSS_BOUND
    assert_latency_bounded(base, during)


def test_more_connections_than_the_limit(server_factory):
    """--max-connections 16: the 17th and later get GoAway TOO_MANY_CONNECTIONS and a clean
    close; the admitted clients keep working; a freed slot is reused."""
    srv = server_factory("--max-connections", "16", "--idle-timeout", "30")

    async def main():
        admitted = [await Client.connect(*srv.address, timeout=5) for _ in range(16)]
        start = time.monotonic()

        async def rejected():
            raw = await RawConnection.open(srv.address)
            await raw.send(framing.PREFACE)
            frames = await raw.read_until_closed(5)
            await raw.close()
            return frames, raw.reset

        results = await asyncio.gather(*(rejected() for _ in range(100)))
        elapsed = time.monotonic() - start
        for frames, reset in results:
            kinds = [f.WhichOneof("kind") for f in frames]
            assert kinds == ["goaway"], frames
            assert frames[0].goaway.reason == GoAwayReason.TOO_MANY_CONNECTIONS
        # The admitted clients were not disturbed.
        replies = await asyncio.gather(*(c.health.check(timeout=5) for c in admitted))
        assert all(r.status == pb.HealthCheckResponse.SERVING for r in replies)
        # One leaves; its slot is free again (the server forgets it once its socket closes).
        await admitted.pop().close()
        deadline = time.monotonic() + 5
        while True:
            try:
                admitted.append(await Client.connect(*srv.address, timeout=5))
                break
            except ConnectionError:
                assert time.monotonic() < deadline, "a freed connection slot was not reused"
                await asyncio.sleep(0.05)
        await admitted[-1].health.check(timeout=5)
        for c in admitted:
            await c.close()
        resets = sum(1 for _, reset in results if reset)
        figure("over max connections", limit=16, rejected=len(results), reset_after_goaway=resets,
               seconds=round(elapsed, 2))
    run(main(), 60)


def test_over_limit_goaway_reaches_a_client_that_reads_late(server_factory):
    """The over-limit GoAway must not be lost: a client sends its preface at once (as
    PROTOCOL.md allows) and reads 100 ms later. The server closes without reading the
    preface, so the kernel answers with a TCP reset, which discards the GoAway still unread
    on the client's side; the client sees ECONNRESET and never learns why."""
    srv = server_factory("--max-connections", "1", "--idle-timeout", "30")

    async def main():
        held = await Client.connect(*srv.address, timeout=5)
        outcomes = []
        for _ in range(10):
            raw = await RawConnection.open(srv.address)
            await raw.send(framing.PREFACE)
            await asyncio.sleep(0.1)
            frames = await raw.read_until_closed(5)
            outcomes.append(([reason_name(g.reason) for g in goaways(frames)], raw.reset))
            await raw.close()
        await held.close()
        return outcomes

    outcomes = run(main(), 60)
    lost = [o for o in outcomes if o[0] != ["GOAWAY_TOO_MANY_CONNECTIONS"]]
    figure("over-limit GoAway, late reader", lost=len(lost), of=len(outcomes))
    assert not lost, f"{len(lost)} of {len(outcomes)} late readers lost the GoAway (reset: {lost[:3]})"


# --- rapid reset ---------------------------------------------------------------------------

def test_rapid_reset_flood(hostile_server, baseline):
    """20,000 requests each cancelled at once (HTTP/2 "rapid reset"): no call is answered
    but the ones refused over the limit, the server stays responsive and its memory bounded,
    and afterwards the connection serves calls normally."""
    pairs = 20_000

    async def rapid_reset():
        raw = await RawConnection.open(hostile_server.address)
        await raw.handshake()
        slow = pb.EchoRequest(sleep_millis=5000).SerializeToString()
        chunk = []
        for call_id in range(1, pairs + 1):
            chunk.append(request(call_id, ECHO, slow))
            chunk.append(framing.encode_frame(framing.cancel_frame(call_id)))
            if len(chunk) >= 2000:
                await raw.send(b"".join(chunk))
                chunk = []
        await raw.send(b"".join(chunk))
        # A call after the flood: answered, and never more than LIMIT calls counted.
        await raw.send(request(pairs + 1, ECHO, pb.EchoRequest(response_size=1)))
        codes = {}
        while True:
            resp = await raw.read_response(timeout=10)
            if resp.call_id == pairs + 1:
                break
            codes[resp.call_id] = resp.status.code
        # Responses arrive in order here: every earlier one was a refusal over the limit.
        assert set(codes.values()) <= {StatusCode.RESOURCE_EXHAUSTED}, \
            f"cancelled calls were answered: {sorted(set(codes.values()))}"
        for attempt in range(100):
            await raw.send(request(pairs + 2 + attempt, ECHO, pb.EchoRequest(response_size=1)))
            resp = await raw.read_response(pairs + 2 + attempt)
            if resp.status.code == StatusCode.OK:
                break
            assert resp.status.code == StatusCode.RESOURCE_EXHAUSTED
            await asyncio.sleep(0.05)
        assert resp.status.code == StatusCode.OK
        in_flight = pb.EchoResponse.FromString(resp.message).calls_in_flight
        assert in_flight <= LIMIT
        await raw.close()
        return len(codes), in_flight

    refused, in_flight = attack(hostile_server, baseline, rapid_reset)
    figure("rapid reset", pairs=pairs, refused_over_limit=refused, calls_in_flight_after=in_flight)


def test_cancelled_calls_keep_their_slot_until_their_work_stops(hostile_server, tenant_setup):
    """PROTOCOL.md §3: a cancelled call still counts toward max_concurrent_calls until its
    work has stopped. The thread pool is kept busy by long RevokeMany calls from other
    connections; LIMIT Keys/Get calls queued behind them are cancelled at once; calls sent
    right after still get RESOURCE_EXHAUSTED, and every answered call sees at most LIMIT
    calls in flight."""
    md = tenant_setup["metadata"]

    async def main():
        busy = []
        many = keys_pb2.RevokeKeysRequest(key_ids=[f"key_nope{i}" for i in range(1000)]).SerializeToString()
        for _ in range(4):
            raw = await RawConnection.open(hostile_server.address)
            await raw.handshake()
            await raw.send(request(1, REVOKE_MANY, many, md) + request(2, REVOKE_MANY, many, md))
            busy.append(raw)
        await asyncio.sleep(0.1)
        raw = await RawConnection.open(hostile_server.address)
        await raw.handshake()
        get = keys_pb2.GetKeyRequest(key_id=tenant_setup["key_id"]).SerializeToString()
        data = b"".join(request(i, GET, get, md) for i in range(1, LIMIT + 1))
        data += b"".join(framing.encode_frame(framing.cancel_frame(i)) for i in range(1, LIMIT + 1))
        data += request(LIMIT + 1, ECHO, pb.EchoRequest())
        start = time.monotonic()
        await raw.send(data)
        first = await raw.read_response(LIMIT + 1)
        codes = [first.status.code]
        call_id = LIMIT + 1
        while codes[-1] != StatusCode.OK:
            call_id += 1
            await raw.send(request(call_id, ECHO, pb.EchoRequest()))
            resp = await raw.read_response(call_id, timeout=15)
            codes.append(resp.status.code)
            if resp.status.code == StatusCode.OK:
                assert pb.EchoResponse.FromString(resp.message).calls_in_flight <= LIMIT
            else:
                await asyncio.sleep(0.02)
        freed_after = time.monotonic() - start
        for b in busy:
            for _ in (1, 2):  # either order
                r = await b.read_response(timeout=20)
                assert r.status.code == StatusCode.OK, r
            await b.close()
        # No response ever came for the cancelled Gets.
        await raw.send(framing.encode_frame(framing.ping_frame(7)))
        while True:
            frame = await raw.read_frame(5)
            kind = frame.WhichOneof("kind")
            assert kind != "response" or frame.response.call_id > LIMIT, f"a cancelled call was answered: {frame}"
            if kind == "pong":
                break
        await raw.close()
        return codes, freed_after

    codes, freed_after = run(main(), 60)
    figure("cancelled calls keep their slot", refused_before_free=len(codes) - 1,
           slots_freed_after_s=round(freed_after, 2))
    assert codes[0] == StatusCode.RESOURCE_EXHAUSTED, \
        f"a call right after cancelling {LIMIT} queued calls was run: cancelled work stopped counting early"


# --- lengths and payloads ------------------------------------------------------------------

@pytest.mark.parametrize("length", [4 * MIB + 1, 2**31, 2**32 - 1], ids=["max+1", "2GiB", "4GiB-1"])
def test_declared_length_over_the_maximum(hostile_server, length):
    async def main():
        raw = await RawConnection.open(hostile_server.address)
        await raw.handshake()
        start = time.monotonic()
        await raw.send(framing.encode_length(length) + b"\x0a" * 100)
        frames = await raw.read_until_closed(3)
        assert [f.WhichOneof("kind") for f in frames] == ["goaway"], frames
        assert frames[0].goaway.reason == GoAwayReason.FRAME_TOO_LARGE
        assert time.monotonic() - start < 1.5
        await raw.close()
    rss = rss_bytes(hostile_server.process.pid)
    run(main())
    assert rss_bytes(hostile_server.process.pid) - rss < 16 * MIB


def test_almost_complete_max_size_frames_held_open(hostile_server, baseline):
    """16 connections each declare a 4 MiB frame and send all but its last byte, then wait:
    the server buffers at most about the frame size per connection."""
    conns = 16

    async def held_frames():
        frame = request(1, ECHO, pb.EchoRequest(payload=b"p" * (4 * MIB - 64)))
        frame = framing.encode_length(len(frame) - 4) + frame[4:]
        assert len(frame) - 4 <= 4 * MIB
        raws = []
        for _ in range(conns):
            raw = await RawConnection.open(hostile_server.address)
            await raw.handshake()
            await raw.send(frame[:-1])
            raws.append(raw)
        await asyncio.sleep(1.0)
        rss_held = rss_bytes(hostile_server.process.pid)
        # The last byte completes each: all are answered.
        for raw in raws:
            await raw.send(frame[-1:])
        for raw in raws:
            resp = await raw.read_response(1, timeout=10)
            assert resp.status.code == StatusCode.OK
            await raw.close()
        return rss_held

    rss_before = rss_bytes(hostile_server.process.pid)
    rss_held = attack(hostile_server, baseline, held_frames, rss_bound=conns * 4 * MIB * 2 + 64 * MIB)
    figure("held 4 MiB frames", connections=conns,
           rss_per_connection_mib=round((rss_held - rss_before) / conns / MIB, 2))


def test_a_million_key_ids_in_one_revoke_many(hostile_server, baseline, tenant_setup):
    """RevokeKeysRequest with ~1.4M one-character key IDs in a 4 MiB frame: INVALID_ARGUMENT
    (1 to 1000 IDs, R11), bounded memory."""
    entry = b"\x0a\x01k"  # field 1, length 1, "k"
    count = (4 * MIB - 512) // len(entry)

    async def million_ids():
        raw = await RawConnection.open(hostile_server.address)
        await raw.handshake()
        start = time.monotonic()
        await raw.send(request(1, REVOKE_MANY, entry * count, tenant_setup["metadata"]))
        resp = await raw.read_response(1, timeout=30)
        elapsed = time.monotonic() - start
        await raw.close()
        assert resp.status.code == StatusCode.INVALID_ARGUMENT, resp.status
        return elapsed, resp.status.message

    elapsed, message = attack(hostile_server, baseline, million_ids)
    figure("million key IDs", ids=count, answered_in_s=round(elapsed, 2), message=repr(message[:80]))


def test_thousand_long_key_ids_in_one_revoke_many(hostile_server, baseline, tenant_setup):
    """1000 key IDs of 4000 characters (4 MB): refused as a whole with INVALID_ARGUMENT
    before anything is written (an answer echoing them could not fit in a frame), and the
    connection stays usable."""
    async def long_ids():
        raw = await RawConnection.open(hostile_server.address)
        await raw.handshake()
        req = keys_pb2.RevokeKeysRequest(key_ids=[f"key_{i:04d}" + "z" * 3992 for i in range(1000)])
        await raw.send(request(1, REVOKE_MANY, req, tenant_setup["metadata"]))
        resp = await raw.read_response(1, timeout=30)
        await raw.send(request(2, HEALTH))
        assert (await raw.read_response(2)).status.code == StatusCode.OK
        await raw.close()
        return resp.status

    status = attack(hostile_server, baseline, long_ids)
    figure("1000 long key IDs", status=StatusCode(status.code).name, message=repr(status.message[:90]))
    assert status.code == StatusCode.INVALID_ARGUMENT, status


def _nested(depth: int, field: int = 99) -> bytes:
    """``depth`` levels of an unknown length-delimited field inside itself."""
    body = b""
    tag = bytes([(field << 3 | 2) & 0x7F | 0x80, field >> 4])
    for _ in range(depth):
        body = tag + _varint(len(body)) + body
    return body


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


@pytest.mark.parametrize("shape", ["nested-unknown", "nested-groups", "million-unknown-fields"])
def test_unknown_fields_deep_and_many(hostile_server, baseline, tenant_setup, shape):
    """Unknown fields are skipped (protobuf rules) or refused, never recursed into without
    bound: a deeply nested unknown message, 500k nested groups, a million unknown varints."""
    if shape == "nested-unknown":
        junk = _nested(100_000)
    elif shape == "nested-groups":
        depth = 500_000
        junk = bytes([(98 << 3 | 3) & 0x7F | 0x80, 98 >> 4]) * depth + bytes([(98 << 3 | 4) & 0x7F | 0x80, 98 >> 4]) * depth
    else:
        junk = b"\xb8\x06\x01" * 1_000_000  # field 103, varint 1
    assert len(junk) < 4 * MIB - 1024

    async def unknown_fields():
        raw = await RawConnection.open(hostile_server.address)
        await raw.handshake()
        name = keys_pb2.GenerateKeyRequest(name=f"unknown {shape}").SerializeToString()
        await raw.send(request(1, GENERATE, name + junk, tenant_setup["metadata"]))
        resp = await raw.read_response(1, timeout=30)
        await raw.close()
        return resp.status

    status = attack(hostile_server, baseline, unknown_fields)
    figure(f"unknown fields ({shape})", bytes=len(junk), status=StatusCode(status.code).name,
           message=repr(status.message[:80]))
    assert status.code in (StatusCode.OK, StatusCode.INVALID_ARGUMENT), status


def test_huge_metadata_map_in_the_envelope(hostile_server, baseline):
    """A request envelope with 280k distinct metadata entries (4 MiB): answered or refused
    with a clear status; memory bounded."""
    async def huge_metadata():
        raw = await RawConnection.open(hostile_server.address)
        await raw.handshake()
        frame = framing.request_frame(1, HEALTH)
        body = frame.SerializeToString()
        entries = bytearray()
        for i in range(280_000):
            key = b"k%06x" % i
            entry = b"\x0a" + bytes([len(key)]) + key + b"\x12\x01v"
            entries += b"\x1a" + bytes([len(entry)]) + entry
        inner = frame.request.SerializeToString() + bytes(entries)
        body = b"\x0a" + _varint(len(inner)) + inner
        assert len(body) <= 4 * MIB
        await raw.send(framing.encode_frame(body))
        frames = []
        resp = None
        while resp is None:
            frame = await raw.read_frame(30)
            if frame is None:
                break
            frames.append(frame)
            if frame.WhichOneof("kind") == "response":
                resp = frame.response
        await raw.close()
        return resp, frames

    resp, frames = attack(hostile_server, baseline, huge_metadata)
    figure("280k metadata entries", outcome=StatusCode(resp.status.code).name if resp else
           [reason_name(g.reason) for g in goaways(frames)])
    assert resp is not None or goaways(frames), frames


# --- strings -------------------------------------------------------------------------------

@pytest.mark.parametrize("bad", [b"\xff\xfe", b"ok\xc0\xafok", b"\xed\xa0\x80", b"abc\x80", b"nul\x00byte"],
                         ids=["ff-fe", "overlong", "surrogate", "lone-continuation", "nul"])
def test_invalid_utf8_in_a_method_string_is_invalid_argument(hostile_server, tenant_setup, bad):
    async def main():
        raw = await RawConnection.open(hostile_server.address)
        await raw.handshake()
        msg = b"\x0a" + _varint(len(bad)) + bad  # GenerateKeyRequest.name
        await raw.send(request(1, GENERATE, msg, tenant_setup["metadata"]))
        resp = await raw.read_response(1)
        rename = b"\x0a" + _varint(len(tenant_setup["key_id"])) + tenant_setup["key_id"].encode() + b"\x12" + _varint(len(bad)) + bad
        await raw.send(request(2, RENAME, rename, tenant_setup["metadata"]))
        resp2 = await raw.read_response(2)
        await raw.send(request(3, LIST, b"\x0a" + _varint(len(bad)) + bad, tenant_setup["metadata"]))
        resp3 = await raw.read_response(3)
        await raw.close()
        return resp, resp2, resp3
    for resp in run(main()):
        assert resp.status.code == StatusCode.INVALID_ARGUMENT, resp.status


@pytest.mark.parametrize("where", ["method", "metadata-value", "metadata-key"])
def test_invalid_utf8_in_the_envelope_is_a_protocol_error(hostile_server, where):
    async def main():
        raw = await RawConnection.open(hostile_server.address)
        await raw.handshake()
        method = HEALTH.encode()
        entry = b"\x0a\x01a\x12\x01b"
        if where == "method":
            method = method[:-1] + b"\xff"
        elif where == "metadata-value":
            entry = b"\x0a\x01a\x12\x01\xff"
        else:
            entry = b"\x0a\x01\xff\x12\x01b"
        inner = b"\x08\x01\x12" + _varint(len(method)) + method + b"\x1a" + _varint(len(entry)) + entry
        await raw.send(framing.encode_frame(b"\x0a" + _varint(len(inner)) + inner))
        frames = await raw.read_until_closed(5)
        await raw.close()
        return frames
    frames = run(main())
    assert [f.WhichOneof("kind") for f in frames] == ["goaway"], frames
    assert frames[0].goaway.reason == GoAwayReason.PROTOCOL_ERROR


@pytest.mark.parametrize("method", ["generate", "rename", "search"])
def test_one_mebibyte_key_name_is_invalid_argument(hostile_server, tenant_setup, method):
    huge = "n" * MIB

    async def main():
        raw = await RawConnection.open(hostile_server.address)
        await raw.handshake()
        if method == "generate":
            msg, path = keys_pb2.GenerateKeyRequest(name=huge), GENERATE
        elif method == "rename":
            msg, path = keys_pb2.RenameKeyRequest(key_id=tenant_setup["key_id"], name=huge), RENAME
        else:
            msg, path = keys_pb2.ListKeysRequest(search=huge), LIST
        start = time.monotonic()
        await raw.send(request(1, path, msg, tenant_setup["metadata"]))
        resp = await raw.read_response(1, timeout=10)
        await raw.close()
        return resp, time.monotonic() - start
    resp, elapsed = run(main())
    assert resp.status.code == StatusCode.INVALID_ARGUMENT, resp.status
    assert len(resp.status.message) < 1000, "the error message echoes the huge input"
    assert elapsed < 3


# --- clients that do not read (backpressure; issue 9 finding 2) ------------------------------

#: What a client that never reads may cost the server: the unwritten-output bound (8 MiB by
#: default), a read batch of requests held while reading is paused, and allocator slack.
NON_READER_RSS_BOUND = 64 * MIB
#: The server must stop taking a non-reader's bytes long before this.
NON_READER_ACCEPTED_BOUND = 64 * MIB
GIB = 1024 * MIB


def _flood_without_reading(address, next_chunk, offer: int, stall_s: float, deadline_s: float):
    """Send chunks from ``next_chunk(call_id) -> (bytes, next_call_id)`` on a socket that is
    never read, until ``offer`` bytes went out, the socket took nothing for ``stall_s``
    (the server stopped reading), or ``deadline_s`` passed. Returns the open socket, the bytes
    the kernel took, whether it stalled, and the seconds it ran."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    # Small kernel buffers: what the kernel holds on the client's side is not the server's.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16 * 1024)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 64 * 1024)
    sock.connect(address)
    sock.settimeout(stall_s)
    start = time.monotonic()
    sent, call_id, stalled = 0, 1, False
    sock.sendall(framing.PREFACE)
    while not stalled and sent < offer and time.monotonic() - start < deadline_s:
        chunk, call_id = next_chunk(call_id)
        view = memoryview(chunk)
        while view:
            try:
                n = sock.send(view)
            except socket.timeout:
                stalled = True
                break
            sent += n
            view = view[n:]
    return sock, sent, stalled, time.monotonic() - start


def _echo_chunk(payload: int, response_size: int, per_chunk: int):
    message = pb.EchoRequest(payload=b"p" * payload, response_size=response_size).SerializeToString()

    def next_chunk(call_id):
        frames = [request(call_id + i, ECHO, message) for i in range(per_chunk)]
        return b"".join(frames), call_id + per_chunk
    return next_chunk


@pytest.mark.parametrize("shape", ["1 GiB of requests", "256 KiB answers"])
def test_a_client_that_never_reads_while_sending_over_a_gibibyte(hostile_server, baseline, shape):
    """A client sends as fast as the socket takes it and never reads a byte; the server's RSS
    stays within NON_READER_RSS_BOUND and a well-behaved client in another process keeps its
    usual latency (PROTOCOL.md §5).

    - "1 GiB of requests": 4,097 requests of 256 KiB, each asking 64 KiB back (1 GiB +
      256 KiB offered). Beyond the LIMIT calls whose answers wait, each is refused with a
      small RESOURCE_EXHAUSTED, so the server may read all of it: memory, not input, is
      what is bounded.
    - "256 KiB answers": the issue's attack, requests of 25 bytes each asking 256 KiB (every
      4,096 of them ask 1 GiB), sent until the socket stalls: the answers and refusals
      waiting reach the bound and the server stops reading, long before 64 MiB.
    """
    if shape == "1 GiB of requests":
        payload, answer, per_chunk, offer = 256 * 1024, 64 * 1024, 4, GIB + 256 * 1024
    else:
        payload, answer, per_chunk, offer = 0, 256 * 1024, 4_096, 64 * GIB
    next_chunk = _echo_chunk(payload, answer, per_chunk)
    request_size = len(next_chunk(1)[0]) / per_chunk
    outcome = {}

    async def non_reader():
        sock, sent, stalled, elapsed = await asyncio.to_thread(
            _flood_without_reading, hostile_server.address, next_chunk, offer, 5.0, 40.0)
        outcome.update(sent=sent, stalled=stalled, elapsed=elapsed)
        sock.close()

    non_reader.__name__ = f"never reads, {shape}"
    attack(hostile_server, baseline, non_reader, rss_bound=NON_READER_RSS_BOUND)
    figure(f"never reads, {shape}", taken_mib=round(outcome["sent"] / MIB, 1),
           requests_taken=int(outcome["sent"] / request_size),
           answers_asked_mib=round(outcome["sent"] / request_size * answer / MIB),
           stalled=outcome["stalled"], seconds=round(outcome["elapsed"], 1))
    if shape == "1 GiB of requests":
        assert outcome["sent"] >= GIB or outcome["stalled"], outcome
    else:
        assert outcome["stalled"], f"the server read {outcome['sent'] / MIB:.0f} MiB from a client that never reads"
        assert outcome["sent"] < NON_READER_ACCEPTED_BOUND


def test_a_non_reader_sending_one_mebibyte_unknown_method_names(server_factory):
    """X16: an unknown method's UNIMPLEMENTED answer quotes at most 128 bytes of the name, so
    requests with 1 MiB method names cost the server nothing that grows (the issue, on a
    server without --conformance, saw RSS 37 → 466 MB in 40 s, each answer 1 MiB). The flood
    runs for 10 s without reading; then one call of each shape is read and checked."""
    srv = server_factory("--idle-timeout", "20", "--max-concurrent-calls", str(LIMIT), conformance=False)
    base = measure_latency(srv.address, 1.0)
    # A known service, so the answer names the unknown method: the 1 MiB echo.
    name = "/apikeys.v1.Keys/" + "m" * MIB

    def next_chunk(call_id):
        return request(call_id, name), call_id + 1
    outcome = {}

    async def unknown_methods():
        sock, sent, stalled, elapsed = await asyncio.to_thread(
            _flood_without_reading, srv.address, next_chunk, GIB, 5.0, 10.0)
        outcome.update(sent=sent, stalled=stalled, elapsed=elapsed)
        sock.close()
        raw = await RawConnection.open(srv.address)
        await raw.handshake()
        await raw.send(request(1, "/apikeys.v1.Keys/" + "é" * (MIB // 2)))
        await raw.send(request(2, name))
        await raw.send(request(3, "/" + "s" * MIB + "/M"))
        await raw.send(request(4, "s" * MIB))
        answers = [await raw.read_response(i, timeout=10) for i in (1, 2, 3, 4)]
        await raw.close()
        return answers

    answers = attack(srv, base, unknown_methods, rss_bound=NON_READER_RSS_BOUND)
    figure("1 MiB unknown method names, never read, no --conformance", taken_mib=round(outcome["sent"] / MIB),
           requests=int(outcome["sent"] / len(next_chunk(1)[0])), stalled=outcome["stalled"],
           seconds=round(outcome["elapsed"], 1), answer_bytes=[len(a.status.message.encode()) for a in answers])
    for answer in answers:
        assert answer.status.code == StatusCode.UNIMPLEMENTED, answer.status
        assert len(answer.status.message.encode()) <= 128 + 100, answer.status.message
        assert "(cut, " in answer.status.message, answer.status.message


def test_a_non_reader_asking_a_hundred_large_answers_in_one_burst(server_factory):
    """The security review's case: tiny requests, so every call is read and started before the
    first answer exists, each asking ~4 MiB (100 × 4 MiB per connection, two connections),
    never read. Pausing reading alone held every answer (RSS 37 → 857 MiB); now an answer that
    would take a connection's unwritten output over twice the bound (16 MiB) is replaced by a
    short RESOURCE_EXHAUSTED. Afterwards one connection reads everything: a few full answers,
    the rest replaced, each call answered once."""
    srv = server_factory("--idle-timeout", "20", "--http-port", "0")
    metrics_port = http_port(srv)
    base = measure_latency(srv.address, 1.0)
    size, count, connections = 4_194_104, 100, 2
    burst = framing.PREFACE + b"".join(
        request(call_id, ECHO, pb.EchoRequest(response_size=size)) for call_id in range(1, count + 1))
    socks = []
    rss = {}

    async def burst_of_large_answers():
        rss["before"] = rss_bytes(srv.process.pid)
        for _ in range(connections):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            # Small kernel buffers: what the kernel holds on the client's side is not the server's.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16 * 1024)
            sock.connect(srv.address)
            sock.sendall(burst)
            socks.append(sock)
        # Building and dropping 800 MiB of answers takes a few seconds on a loaded machine.
        await asyncio.sleep(6)
        rss["held"] = rss_bytes(srv.process.pid)
        # What an operator sees meanwhile (issue 11): answers replaced.
        rss["replaced"] = metric(metrics_port, "apikeys_responses_replaced_total")
        reader, writer = await asyncio.open_connection(sock=socks[0])
        raw = RawConnection(reader, writer)
        await raw.handshake()
        answers = [await raw.read_response(timeout=20) for _ in range(count)]
        await raw.close()
        return answers

    try:
        # The peak includes answers built and not yet dropped (up to 200 × 4 MiB in flight at
        # once, freed as each finishes) and allocator slack; what stays held is checked below.
        answers = attack(srv, base, burst_of_large_answers, timeout=40)
    finally:
        for sock in socks[1:]:
            sock.close()
    full = [a for a in answers if a.status.code == StatusCode.OK]
    dropped = [a for a in answers if a.status.code == StatusCode.RESOURCE_EXHAUSTED]
    held = rss["held"] - rss["before"]
    figure("100 × 4 MiB answers in one burst, never read, 2 connections", full_answers=len(full),
           replaced=len(dropped), status_bytes=max(len(a.status.message.encode()) for a in dropped),
           rss_held_growth_mib=round(held / MIB, 1))
    # Two connections × twice the 8 MiB bound, and slack: not 2 × 400 MiB.
    assert held < NON_READER_RSS_BOUND, f"the server holds {held / MIB:.0f} MiB more after the burst"
    assert sorted(a.call_id for a in answers) == list(range(1, count + 1))
    assert len(full) + len(dropped) == count
    assert 1 <= len(full) <= 8
    assert all(len(pb.EchoResponse.FromString(a.message).payload) == size for a in full)
    assert all("read your responses" in a.status.message for a in dropped)
    # The operator's view: /metrics counts the replaced answers, at least those read here.
    assert rss["replaced"] > 0, rss
    assert metric(metrics_port, "apikeys_responses_replaced_total") >= len(dropped)


def test_a_paused_connection_shows_in_the_metrics_until_it_goes(server_factory):
    """Issue 11: a client that sends and never reads is paused (PROTOCOL.md §5), and the
    operator sees it: apikeys_connections_reading_paused is 1 while the connection is held
    and 0 once it is gone; apikeys_responses_replaced_total counts the answers replaced."""
    srv = server_factory("--idle-timeout", "20", "--http-port", "0")
    port = http_port(srv)
    assert metric(port, "apikeys_connections_reading_paused") == 0
    sock, sent, stalled, _ = _flood_without_reading(srv.address, _echo_chunk(0, 256 * 1024, 4_096), 64 * GIB, 3.0, 30.0)
    try:
        assert stalled, f"the server read {sent / MIB:.0f} MiB from a client that never reads"
        assert metric(port, "apikeys_connections_reading_paused") == 1
        assert metric(port, "apikeys_responses_replaced_total") > 0
    finally:
        sock.close()
    wait_for(lambda: metric(port, "apikeys_connections_reading_paused") == 0, what="the paused gauge back at 0")


def metric(port: int, name: str) -> float:
    """One unlabelled series' value from /metrics (0 when it has no sample yet)."""
    status, body = http_get(port, "/metrics")
    assert status == 200, (status, body)
    for line in body.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return 0.0
