"""Client behaviour against a scripted in-process fake server (no apikeysd needed):
what the real server cannot be made to do on demand (pings, GoAway with a chosen
last_call_id, settings withheld)."""

import asyncio

import pytest

from apikeys_client import Client, ConnectError, GoAwayReason, RpcError, StatusCode, framing, pb
from helpers import run


class FakeServer:
    """Accepts one connection; records every frame the client sends."""

    def __init__(self, script, *, send_settings=True):
        self.script = script
        self.send_settings = send_settings
        self.received: list = []
        self.preface = b""
        self.frame_arrived = None
        self.accepted = 0  # connections so far; the script reads it to know which one it serves

    async def __aenter__(self):
        self.frame_arrived = asyncio.Condition()
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.address = self.server.sockets[0].getsockname()[:2]
        return self

    async def __aexit__(self, *exc):
        self.server.close()
        await self.server.wait_closed()

    async def _handle(self, reader, writer):
        self.accepted += 1
        self.reader, self.writer = reader, writer
        self.preface = await reader.readexactly(8)
        send = self.send_settings(self.accepted) if callable(self.send_settings) else self.send_settings
        if send:
            self.send(pb.Frame(settings=pb.ServerSettings(
                protocol_version=1, max_frame_size=1 << 22, max_concurrent_calls=100, server="fake")))
        self.pump = asyncio.create_task(self._pump())
        try:
            await self.script(self)
        finally:
            writer.close()

    async def _pump(self):
        while True:
            try:
                frame = await framing.read_frame(self.reader)
            except ConnectionError:  # the client reset the connection: the end, too
                return
            if frame is None:
                return
            async with self.frame_arrived:
                self.received.append(frame)
                self.frame_arrived.notify_all()

    def send(self, frame):
        self.writer.write(framing.encode_frame(frame))

    async def wait_for(self, predicate, timeout=5):
        async with self.frame_arrived:
            await asyncio.wait_for(self.frame_arrived.wait_for(
                lambda: [f for f in self.received if predicate(f)]), timeout)
        return [f for f in self.received if predicate(f)]

    def respond(self, call_id, code=0, message=b"", status_message=""):
        self.send(pb.Frame(response=pb.Response(
            call_id=call_id, status=pb.Status(code=code, message=status_message), message=message)))


def kind(k):
    return lambda f: f.WhichOneof("kind") == k


def test_preface_call_ids_and_out_of_order_responses():
    async def script(srv):
        await srv.wait_for(lambda f: kind("request")(f) and f.request.call_id == 3)
        for f in reversed([f for f in srv.received if kind("request")(f)]):  # answer in reverse order
            srv.respond(f.request.call_id, message=pb.EchoResponse(payload=f.request.message).SerializeToString())
        await asyncio.sleep(1)

    async def main():
        async with FakeServer(script) as srv:
            client = await Client.connect(*srv.address, credential="Operator x", tenant="t", user="u")
            assert client.settings.server == "fake"
            results = await asyncio.gather(*[
                client.conformance.echo(payload=bytes([i])) for i in range(3)])
            assert [r.payload for r in results] == [pb.EchoRequest(payload=bytes([i])).SerializeToString()
                                                    for i in range(3)]
            assert srv.preface == framing.PREFACE
            reqs = [f.request for f in srv.received if f.WhichOneof("kind") == "request"]
            assert [r.call_id for r in reqs] == [1, 2, 3]
            assert dict(reqs[0].metadata) == {"authorization": "Operator x", "x-tenant-id": "t", "x-user-id": "u"}
            await client.close()
    run(main())


def test_error_status_and_details():
    async def script(srv):
        [f] = await srv.wait_for(kind("request"))
        srv.send(pb.Frame(response=pb.Response(call_id=f.request.call_id, status=pb.Status(
            code=7, message="no", details=pb.ErrorDetails(rule="R17", reason="no_license").SerializeToString()))))
        await asyncio.sleep(1)

    async def main():
        async with FakeServer(script) as srv:
            client = await Client.connect(*srv.address)
            with pytest.raises(RpcError) as info:
                await client.keys.generate(name="k")
            assert info.value.code is StatusCode.PERMISSION_DENIED
            assert (info.value.message, info.value.rule, info.value.reason) == ("no", "R17", "no_license")
            await client.close()
    run(main())


def test_server_ping_is_answered_with_same_data():
    async def script(srv):
        srv.send(framing.ping_frame(0xDEADBEEF))
        [pong] = await srv.wait_for(kind("pong"))
        assert pong.pong.data == 0xDEADBEEF
        srv.send(framing.goaway_frame(0, 0, "done"))

    async def main():
        async with FakeServer(script) as srv:
            client = await Client.connect(*srv.address)
            await asyncio.wait_for(client.connection.wait_closed(), 5)
            assert client.connection.pings_answered == 1
            await client.close()
    run(main())


def test_client_ping():
    async def script(srv):
        [ping] = await srv.wait_for(kind("ping"))
        srv.send(framing.pong_frame(ping.ping.data))
        await asyncio.sleep(1)

    async def main():
        async with FakeServer(script) as srv:
            client = await Client.connect(*srv.address)
            assert await client.ping(timeout=5) < 5
            await client.close()
    run(main())


def test_goaway_drain_sends_calls_not_run_again_on_a_new_connection():
    """§5: a call above a NO_ERROR GoAway's last_call_id did not run; the client sends it
    on a fresh connection, and later calls go there too."""
    async def script(srv):
        if srv.accepted == 1:
            await srv.wait_for(lambda f: kind("request")(f) and f.request.call_id == 3)
            srv.send(framing.goaway_frame(2, 0, "shutting down"))
            srv.respond(1)
            srv.respond(2)
            await asyncio.sleep(0.2)
            return
        while True:  # the second connection answers everything
            n = len(srv.received)
            async with srv.frame_arrived:
                await srv.frame_arrived.wait_for(lambda: len(srv.received) > n)
            for f in srv.received[n:]:
                if kind("request")(f):
                    srv.respond(f.request.call_id)

    async def main():
        async with FakeServer(script) as srv:
            client = await Client.connect(*srv.address, pool_size=1)
            first = client.connection
            results = await asyncio.gather(*[client.conformance.empty() for _ in range(3)],
                                           return_exceptions=True)
            assert all(isinstance(r, pb.EmptyMessage) for r in results), results
            assert first.draining and first.goaway.reason == GoAwayReason.NO_ERROR
            assert client.channel.retries == 1 and client.channel.connects == 2
            second = client.connection
            assert second is not first and second.calls_started == 1  # call 3, sent again
            await client.conformance.empty()
            assert second.calls_started == 2 and first.calls_started == 3
            await client.close()
    run(main())


def test_goaway_for_a_protocol_error_is_not_retried():
    """After an error GoAway the same call would be refused again: it fails UNAVAILABLE."""
    async def script(srv):
        await srv.wait_for(lambda f: kind("request")(f) and f.request.call_id == 2)
        srv.send(framing.goaway_frame(1, GoAwayReason.PROTOCOL_ERROR, "bad"))
        srv.respond(1)
        await asyncio.sleep(0.2)

    async def main():
        async with FakeServer(script) as srv:
            client = await Client.connect(*srv.address, pool_size=1)
            results = await asyncio.gather(*[client.conformance.empty() for _ in range(2)],
                                           return_exceptions=True)
            assert isinstance(results[0], pb.EmptyMessage)
            assert isinstance(results[1], RpcError) and results[1].code is StatusCode.UNAVAILABLE
            assert "GOAWAY_PROTOCOL_ERROR" in results[1].message
            assert client.channel.retries == 0 and srv.accepted == 1
            # The connection-level view: it refuses new calls itself.
            with pytest.raises(RpcError) as info:
                await client.connection.call(client.conformance._EMPTY.path, pb.EmptyMessage(), pb.EmptyMessage)
            assert info.value.code is StatusCode.UNAVAILABLE
            await client.close()
    run(main())


def test_connection_closed_fails_pending_calls():
    """A call that is not idempotent (Generate) fails UNAVAILABLE when its connection ends
    before the answer, and is not sent again: it may have run. (An idempotent one would be
    sent again on a new connection: the next test.)"""
    async def script(srv):
        await srv.wait_for(kind("request"))

    async def main():
        async with FakeServer(script) as srv:
            client = await Client.connect(*srv.address)
            with pytest.raises(RpcError) as info:
                await client.keys.generate(name="k")
            assert info.value.code is StatusCode.UNAVAILABLE
            assert srv.accepted == 1
            await client.close()
    run(main())


def test_idempotent_call_lost_with_its_connection_is_sent_again_others_are_not():
    """A connection that ends before the answer (no GoAway): the call may have run. A Verify
    (idempotent) is sent again on a new connection; a Generate fails UNAVAILABLE."""
    async def script(srv):
        n = srv.accepted
        [f] = await srv.wait_for(lambda f: kind("request")(f) and f not in seen)
        seen.append(f)
        if n in (2, 4):  # the second and fourth connections answer
            srv.send(pb.Frame(response=pb.Response(call_id=f.request.call_id, status=pb.Status(),
                                                   message=pb.VerifyResponse().SerializeToString())))
            await asyncio.sleep(0.5)
        # the others close without answering

    seen = []

    async def main():
        async with FakeServer(script) as srv:
            client = await Client.connect(*srv.address, pool_size=1)
            await client.verification.verify(secret="ak_x", timeout=5)
            assert client.channel.idempotent_retries == 1 and client.channel.retries == 0
            await asyncio.sleep(0.6)  # the second connection ends
            with pytest.raises(RpcError) as info:
                await client.keys.generate(name="k", timeout=5)
            assert info.value.code is StatusCode.UNAVAILABLE and info.value.connection_lost
            assert client.channel.idempotent_retries == 1
            assert [f.request.method.rsplit("/", 1)[1] for f in seen] == ["Verify", "Verify", "Generate"]
            await client.close()
    run(main())


def test_a_connection_accepted_and_never_answered_does_not_stall_the_pool():
    """apikeysd's start-up port check accepts connections it never serves. The first attempt
    lands there; after hedge_after a second one starts beside it and the call goes through
    long before the first attempt's connect_timeout."""
    async def script(srv):
        if srv.accepted == 1:
            await asyncio.sleep(30)  # a black hole: settings never come
            return
        [f] = await srv.wait_for(lambda f: kind("request")(f))
        srv.respond(f.request.call_id)
        await asyncio.sleep(0.5)

    async def main():
        async with FakeServer(script, send_settings=lambda n: n > 1) as srv:
            client = Client(*srv.address, pool_size=1, connect_timeout=20, hedge_after=0.3)
            loop = asyncio.get_running_loop()
            start = loop.time()
            await client.conformance.empty(timeout=10)
            took = loop.time() - start
            assert 0.3 <= took < 2, took
            assert srv.accepted == 2 and client.channel.connects == 1
            await client.close()
    run(main())


def test_cancel_sends_cancel_frame_and_timeout_is_enforced_locally():
    async def script(srv):
        [c] = await srv.wait_for(kind("cancel"))
        assert c.cancel.call_id == 1
        [r2] = await srv.wait_for(lambda f: kind("request")(f) and f.request.call_id == 2)
        assert 0 < r2.request.timeout_micros <= 50_000
        await srv.wait_for(lambda f: kind("cancel")(f) and f.cancel.call_id == 2)
        srv.respond(1)  # late answers to abandoned calls are dropped
        srv.respond(2)
        await srv.wait_for(lambda f: kind("request")(f) and f.request.call_id == 3)
        srv.respond(3)
        await asyncio.sleep(0.5)

    async def main():
        async with FakeServer(script) as srv:
            client = await Client.connect(*srv.address)
            task = asyncio.create_task(client.conformance.empty())
            await asyncio.sleep(0.05)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            with pytest.raises(RpcError) as info:
                await client.conformance.empty(timeout=0.05)
            assert info.value.code is StatusCode.DEADLINE_EXCEEDED
            await client.conformance.empty(timeout=5)
            assert client.connection.cancels_sent == 2
            assert client.connection.in_flight == 0
            await client.close()
    run(main())


def test_goaway_before_settings_is_a_connect_error():
    async def script(srv):
        srv.send(framing.goaway_frame(0, GoAwayReason.TOO_MANY_CONNECTIONS, "full"))

    async def main():
        async with FakeServer(script, send_settings=False) as srv:
            with pytest.raises(ConnectError) as info:
                await Client.connect(*srv.address, timeout=5)
            assert info.value.reason is GoAwayReason.TOO_MANY_CONNECTIONS
    run(main())


def test_frame_size_enforced_locally():
    async def script(srv):
        await asyncio.sleep(1)

    async def main():
        async with FakeServer(script) as srv:
            client = await Client.connect(*srv.address)
            with pytest.raises(RpcError) as info:
                await client.conformance.echo(payload=b"x" * (1 << 22))
            assert info.value.code is StatusCode.RESOURCE_EXHAUSTED
            await client.close()
    run(main())


def test_metadata_is_checked_locally():
    async def script(srv):
        await asyncio.sleep(1)

    async def main():
        async with FakeServer(script) as srv:
            client = await Client.connect(*srv.address)
            for md in ({"X-Upper": "v"}, {"": "v"}, {"x-nul": "a\0b"}, {"x-é": "v"}):
                with pytest.raises(ValueError):
                    await client.conformance.empty(metadata=md)
            assert client.connection.next_call_id == 1  # nothing was sent
            await client.close()
    run(main())
