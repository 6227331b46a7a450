"""Connection lifetime on servers with their own flags: keepalive, connection limit."""

import asyncio
import time

import pytest

from apikeys_client import Client, ConnectError, GoAwayReason, framing, pb
from helpers import ECHO, RawConnection, assert_server_healthy, run

KEEPALIVE_S = 0.5


def test_keepalive_ping_answered_by_client_and_enforced_on_raw_peer(server_factory):
    srv = server_factory("--keepalive-interval", str(KEEPALIVE_S))

    async def main():
        client = await Client.connect(*srv.address)
        assert client.settings.keepalive_interval_millis == int(KEEPALIVE_S * 1000)
        # The call keeps the connection from being idle; the client answers the pings.
        resp = await client.conformance.echo(sleep_millis=int(KEEPALIVE_S * 4 * 1000), response_size=1)
        assert len(resp.payload) == 1
        assert client.connection.pings_answered >= 1
        assert not client.connection.closed
        await client.close()

        # A peer that never answers: Ping after one interval, GoAway after another.
        raw = await RawConnection.open(srv.address)
        await raw.handshake()
        await raw.send_frame(framing.request_frame(1, ECHO, pb.EchoRequest(sleep_millis=5000)))
        start = time.monotonic()
        frames = await raw.read_until_closed(KEEPALIVE_S * 2 + 3)
        elapsed = time.monotonic() - start
        kinds = [f.WhichOneof("kind") for f in frames]
        assert kinds[0] == "ping", frames
        assert kinds[-1] == "goaway" and frames[-1].goaway.reason == GoAwayReason.KEEPALIVE_TIMEOUT, frames
        assert KEEPALIVE_S * 2 - 0.2 <= elapsed <= KEEPALIVE_S * 2 + 2, elapsed
        await raw.close()
        await assert_server_healthy(srv.address)

    run(main())


def test_too_many_connections(server_factory):
    srv = server_factory("--max-connections", "2")

    async def main():
        a = await Client.connect(*srv.address)
        b = await Client.connect(*srv.address)
        raw = await RawConnection.open(srv.address)
        await raw.send(framing.PREFACE)
        frames = await raw.read_until_closed(3)
        assert [f.WhichOneof("kind") for f in frames] == ["goaway"], frames
        assert frames[0].goaway.reason == GoAwayReason.TOO_MANY_CONNECTIONS
        await raw.close()
        with pytest.raises(ConnectError) as info:
            await Client.connect(*srv.address, timeout=3)
        assert info.value.reason is GoAwayReason.TOO_MANY_CONNECTIONS
        await a.conformance.empty()
        await a.close()
        await asyncio.sleep(0.2)  # let the server see the close
        c = await Client.connect(*srv.address)
        await c.conformance.empty()
        await b.conformance.empty()
        await b.close()
        await c.close()

    run(main())
