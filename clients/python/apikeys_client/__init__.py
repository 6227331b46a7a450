"""Python client of the apikeys RPC protocol (docs/PROTOCOL.md).

    import asyncio
    from apikeys_client import Client, service

    async def main():
        async with Client("127.0.0.1", 7420, credential=service("...")) as c:
            print((await c.verification.verify(secret="ak_...")).principal)

    asyncio.run(main())

``SyncClient`` offers the same methods for blocking code.
"""

from . import framing, methods, pb
from ._base import UNSET
from .channel import Channel
from .client import Client, SyncClient, bearer, operator, service
from .connection import Connection
from .errors import ConnectError, GoAwayReason, RpcError, StatusCode

__all__ = [
    "Client", "SyncClient", "Channel", "Connection", "RpcError", "StatusCode", "GoAwayReason",
    "ConnectError", "bearer", "service", "operator", "UNSET", "framing", "methods", "pb",
]
__version__ = "0.2.0"
