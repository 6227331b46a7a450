"""Conformance tests adapted from the gRPC interop suite, against a real apikeysd."""

import asyncio
import time

import pytest

from apikeys_client import Client, GoAwayReason, RpcError, StatusCode, framing, pb
from helpers import ECHO, EMPTY, RawConnection, assert_server_healthy, run

WHITESPACE_MESSAGE = "\t\ntest with whitespace\r\nand Unicode BMP ☺ and non-BMP 😈\t\n"


async def connect(server, **options) -> Client:
    # One connection: these cases check the protocol on a connection (call IDs, the
    # per-connection limit), not the pool's spreading.
    options.setdefault("pool_size", 1)
    return await Client.connect(*server.address, timeout=5, **options)


def test_settings_frame(server):
    async def main():
        client = await connect(server)
        s = client.settings
        assert s.protocol_version == 1
        assert s.max_frame_size == framing.DEFAULT_MAX_FRAME_SIZE
        assert s.max_concurrent_calls == 100
        assert s.idle_timeout_millis == 2000
        assert s.keepalive_interval_millis == 60_000
        await client.close()
    run(main())


def test_health_check(server):
    async def main():
        client = await connect(server)
        resp = await client.health.check()
        assert resp.status == pb.HealthCheckResponse.SERVING
        await client.close()
    run(main())


def test_empty_call(server):
    async def main():
        client = await connect(server)
        assert await client.conformance.empty() == pb.EmptyMessage()
        await client.close()
    run(main())


def test_ping(server):
    async def main():
        client = await connect(server)
        assert await client.ping(timeout=5) < 5
        await client.conformance.empty()
        await client.close()
    run(main())


def _payload_for_body_size(target: int, call_id: int = 1, **fields) -> int:
    """Payload length making Frame{request{call_id, Echo, EchoRequest{payload, **fields}}}
    exactly ``target`` bytes."""
    n = target - 64
    for _ in range(10):
        size = framing.request_frame(call_id, ECHO, pb.EchoRequest(payload=b"\0" * n, **fields)).ByteSize()
        if size == target:
            return n
        n += target - size
    raise AssertionError(f"no payload size gives a {target}-byte frame")


def test_request_frame_of_exactly_max_frame_size(server):
    async def main():
        client = await connect(server)
        max_size = client.settings.max_frame_size
        n = _payload_for_body_size(max_size, response_size=10)
        resp = await client.conformance.echo(payload=b"\0" * n, response_size=10)  # no timeout: exact size
        assert len(resp.payload) == 10
        await client.conformance.empty()
        await client.close()
    run(main())


def test_large_response(server):
    async def main():
        client = await connect(server)
        size = client.settings.max_frame_size - 1024
        resp = await client.conformance.echo(response_size=size, timeout=20)
        assert len(resp.payload) == size
        await client.close()
    run(main())


def test_response_never_exceeds_max_frame_size(server):
    """§2: no frame may exceed max_frame_size, so a response that would is refused
    (some error status) rather than sent; the connection stays usable."""
    async def main():
        client = await connect(server)
        with pytest.raises(RpcError) as info:
            await client.conformance.echo(response_size=client.settings.max_frame_size)
        assert not client.connection.closed, f"connection closed: {info.value}"
        assert info.value.code not in (StatusCode.OK, StatusCode.UNAVAILABLE), info.value
        await client.conformance.empty()
        await client.close()
    run(main())


def test_request_frame_one_byte_over_max_frame_size(server):
    async def main():
        client = await connect(server, enforce_max_frame_size=False)
        await client.conformance.empty()  # call 1
        max_size = client.settings.max_frame_size
        n = _payload_for_body_size(max_size + 1, call_id=2)
        with pytest.raises(RpcError) as info:
            await client.conformance.echo(payload=b"\0" * n)  # no timeout: exact size
        assert info.value.code == StatusCode.UNAVAILABLE, info.value
        await asyncio.wait_for(client.connection.wait_closed(), 5)
        goaway = client.connection.goaway
        assert goaway is not None, "no GoAway before the close"
        assert goaway.reason == GoAwayReason.FRAME_TOO_LARGE
        assert goaway.last_call_id == 1
        await client.close()
        await assert_server_healthy(server.address)
    run(main())


def test_client_refuses_oversized_frame_locally(server):
    async def main():
        client = await connect(server)
        with pytest.raises(RpcError) as info:
            await client.conformance.echo(payload=b"\0" * client.settings.max_frame_size)
        assert info.value.code == StatusCode.RESOURCE_EXHAUSTED
        await client.conformance.empty()
        await client.close()
    run(main())


def test_status_code_and_message_round_trip(server):
    codes = [c for c in StatusCode if c not in (StatusCode.OK, StatusCode.CANCELLED)]

    async def main():
        client = await connect(server)
        results = await asyncio.gather(*[
            client.conformance.echo(status_code=int(code), status_message=WHITESPACE_MESSAGE)
            for code in codes], return_exceptions=True)
        for code, result in zip(codes, results):
            assert isinstance(result, RpcError), f"{code.name}: got {result!r}"
            assert result.code == code
            assert result.message == WHITESPACE_MESSAGE
        await client.close()
    run(main())


def test_unimplemented_method(server):
    async def main():
        client = await connect(server)
        with pytest.raises(RpcError) as info:
            await client.connection.call("/apikeys.v1.Conformance/NoSuchMethod", pb.EmptyMessage(), pb.EmptyMessage)
        assert info.value.code == StatusCode.UNIMPLEMENTED
        assert "NoSuchMethod" in info.value.message
        await client.conformance.empty()
        await client.close()
    run(main())


def test_unimplemented_service(server):
    async def main():
        client = await connect(server)
        with pytest.raises(RpcError) as info:
            await client.connection.call("/apikeys.v1.NoSuchService/Empty", pb.EmptyMessage(), pb.EmptyMessage)
        assert info.value.code == StatusCode.UNIMPLEMENTED
        assert "NoSuchService" in info.value.message
        await client.close()
    run(main())


def test_cancel_after_begin_via_client(server):
    async def main():
        client = await connect(server)
        task = asyncio.create_task(client.conformance.echo(sleep_millis=1000))
        await asyncio.sleep(0.05)
        assert client.connection.in_flight == 1
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert client.connection.cancels_sent == 1
        assert client.connection.in_flight == 0
        await client.conformance.empty()
        await client.close()
    run(main())


def test_cancel_right_after_sending_gets_no_response(server):
    async def main():
        raw = await RawConnection.open(server.address)
        await raw.handshake()
        await raw.send(framing.encode_frame(framing.request_frame(
            1, ECHO, pb.EchoRequest(sleep_millis=300))) + framing.encode_frame(framing.cancel_frame(1)))
        await raw.send_frame(framing.request_frame(2, EMPTY))
        # Well past the 300 ms the cancelled call would have slept: only call 2 is answered.
        responses = []
        end = time.monotonic() + 0.8
        while (left := end - time.monotonic()) > 0:
            try:
                frame = await raw.read_frame(left)
            except asyncio.TimeoutError:
                break
            assert frame is not None, "server closed the connection"
            if frame.WhichOneof("kind") == "response":
                responses.append(frame.response)
        assert [r.call_id for r in responses] == [2]
        assert responses[0].status.code == StatusCode.OK
        # A cancel for an unknown or finished call is ignored.
        await raw.send_frame(framing.cancel_frame(1))
        await raw.send_frame(framing.cancel_frame(99))
        await raw.send_frame(framing.request_frame(100, EMPTY))
        resp = await raw.read_response(100)
        assert resp.status.code == StatusCode.OK
        await raw.close()
    run(main())


def test_timeout_on_sleeping_server_client_side(server):
    async def main():
        client = await connect(server)
        start = time.monotonic()
        with pytest.raises(RpcError) as info:
            await client.conformance.echo(sleep_millis=1000, timeout=0.001)
        assert info.value.code == StatusCode.DEADLINE_EXCEEDED
        assert time.monotonic() - start < 0.5
        await client.conformance.empty()
        await client.close()
    run(main())


def test_timeout_on_sleeping_server_server_side(server):
    """The server itself answers DEADLINE_EXCEEDED (no client-side enforcement here)."""
    async def main():
        raw = await RawConnection.open(server.address)
        await raw.handshake()
        start = time.monotonic()
        await raw.send_frame(framing.request_frame(
            1, ECHO, pb.EchoRequest(sleep_millis=1000), timeout_micros=1000))
        resp = await raw.read_response(1, timeout=5)
        elapsed = time.monotonic() - start
        assert resp.status.code == StatusCode.DEADLINE_EXCEEDED, resp
        assert elapsed < 0.5, f"DEADLINE_EXCEEDED after {elapsed:.3f} s"
        await raw.send_frame(framing.request_frame(2, EMPTY))
        assert (await raw.read_response(2)).status.code == StatusCode.OK
        await raw.close()
    run(main())


def test_1000_concurrent_calls_at_most_100_in_flight(server):
    async def main():
        client = await connect(server)
        sem = asyncio.Semaphore(100)

        async def one(i):
            async with sem:
                return await client.conformance.echo(payload=i.to_bytes(4, "big"), response_size=i % 64)

        results = await asyncio.gather(*[one(i) for i in range(1000)])
        for i, r in enumerate(results):
            assert len(r.payload) == i % 64
            assert 1 <= r.calls_in_flight <= 100
        assert client.connection.next_call_id == 1001
        await client.close()
    run(main())


def test_1000_concurrent_calls_with_client_side_limit(server):
    async def main():
        client = await connect(server, max_in_flight=100)
        results = await asyncio.gather(*[client.conformance.empty() for _ in range(1000)])
        assert len(results) == 1000
        await client.close()
    run(main())


def test_1000_calls_at_once_all_answered(server):
    """No client-side limit: every call is answered, OK or RESOURCE_EXHAUSTED."""
    async def main():
        client = await connect(server)
        results = await asyncio.gather(*[client.conformance.empty() for _ in range(1000)],
                                       return_exceptions=True)
        ok = sum(isinstance(r, pb.EmptyMessage) for r in results)
        for r in results:
            if not isinstance(r, pb.EmptyMessage):
                assert isinstance(r, RpcError) and r.code == StatusCode.RESOURCE_EXHAUSTED, r
        assert ok >= 100
        await client.conformance.empty()
        await client.close()
    run(main())


def test_calls_beyond_the_limit_get_resource_exhausted(server):
    async def main():
        client = await connect(server)
        limit = client.settings.max_concurrent_calls
        loop = asyncio.get_running_loop()
        start = loop.time()

        async def one(i):
            try:
                await client.conformance.echo(sleep_millis=700)
                return i, StatusCode.OK, loop.time() - start
            except RpcError as e:
                return i, e.code, loop.time() - start

        results = await asyncio.gather(*[one(i) for i in range(limit + 50)])
        ok = [i for i, code, _ in results if code == StatusCode.OK]
        exhausted = [i for i, code, _ in results if code == StatusCode.RESOURCE_EXHAUSTED]
        assert ok == list(range(limit)), [(i, c.name) for i, c, _ in results if i < limit and c]
        assert exhausted == list(range(limit, limit + 50))
        # "answered at once": well before the admitted calls finish sleeping.
        assert max(t for i, _, t in results if i >= limit) < 0.5
        # The connection stays open.
        await client.conformance.empty()
        await client.close()
    run(main())


def test_10000_sequential_calls(server):
    async def main():
        client = await connect(server)
        start = time.monotonic()
        for _ in range(10_000):
            await client.conformance.empty()
        elapsed = time.monotonic() - start
        assert client.connection.next_call_id == 10_001
        await client.close()
        return elapsed
    elapsed = run(main(), timeout=60)
    print(f"10,000 sequential calls in {elapsed:.2f} s")


def test_metadata_echo(server):
    async def main():
        client = await connect(server)
        md = {"x-test": "value", "x-unicode": "BMP ☺ non-BMP 😈", "x-empty": ""}
        resp = await client.conformance.echo(echo_metadata=True, metadata=md)
        for k, v in md.items():
            assert resp.metadata.get(k) == v, (k, dict(resp.metadata))
        resp = await client.conformance.echo(metadata=md)
        assert dict(resp.metadata) == {}
        await client.close()
    run(main())
