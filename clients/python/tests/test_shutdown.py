"""Graceful shutdown (PROTOCOL.md §5) on a server of its own."""

import asyncio
import signal
import time

from apikeys_client import Client, GoAwayReason, RpcError, StatusCode, framing, pb
from helpers import ECHO, RawConnection, run


def test_sigterm_goaway_finishes_accepted_calls(fresh_server):
    async def main():
        raw = await RawConnection.open(fresh_server.address)
        await raw.handshake()
        client = await Client.connect(*fresh_server.address)
        running = asyncio.create_task(client.conformance.echo(sleep_millis=600, response_size=5))
        await raw.send_frame(framing.request_frame(1, ECHO, pb.EchoRequest(sleep_millis=600)))
        await asyncio.sleep(0.2)
        fresh_server.process.send_signal(signal.SIGTERM)

        frame = await raw.read_frame(5)
        assert frame.WhichOneof("kind") == "goaway", frame
        assert frame.goaway.reason == GoAwayReason.NO_ERROR
        assert frame.goaway.last_call_id == 1
        # A call above last_call_id is refused with UNAVAILABLE.
        await raw.send_frame(framing.request_frame(2, ECHO, pb.EchoRequest()))
        frames = await raw.read_until_closed(5)
        answers = {f.response.call_id: f.response.status.code for f in frames if f.WhichOneof("kind") == "response"}
        assert answers == {1: StatusCode.OK, 2: StatusCode.UNAVAILABLE}, frames

        # The client: its running call completes, its connection refuses new calls locally.
        resp = await running
        assert len(resp.payload) == 5
        conn = client.connection
        assert conn.draining
        assert conn.goaway.reason == GoAwayReason.NO_ERROR
        try:
            await conn.call(client.conformance._EMPTY.path, pb.EmptyMessage(), pb.EmptyMessage)
            raise AssertionError("call after GoAway succeeded")
        except RpcError as e:
            assert e.code == StatusCode.UNAVAILABLE
        # The pooled client looks for a new connection; the server no longer accepts
        # any, so after its wait the call fails UNAVAILABLE (test_reconnect.py restarts one).
        client.channel.wait_for_connection = 0.5
        try:
            await client.conformance.empty()
            raise AssertionError("call with no server succeeded")
        except RpcError as e:
            assert e.code == StatusCode.UNAVAILABLE
        await asyncio.wait_for(conn.wait_closed(), 5)
        await client.close()
        await raw.close()

    run(main())
    start = time.monotonic()
    status = fresh_server.process.wait(10)
    assert status == 0, f"exit status {status}"
    assert time.monotonic() - start < 5
