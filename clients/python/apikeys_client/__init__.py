"""Python asyncio client of the apikeys RPC protocol (docs/PROTOCOL.md).

    import asyncio
    from apikeys_client import Client, operator

    async def main():
        async with await Client.connect("127.0.0.1", 7420, credential=operator("...")) as c:
            print(await c.health.check())

    asyncio.run(main())
"""

from . import framing, pb
from .client import UNSET, Client, bearer, operator, service
from .connection import Connection
from .errors import ConnectError, GoAwayReason, RpcError, StatusCode

__all__ = [
    "Client", "Connection", "RpcError", "StatusCode", "GoAwayReason", "ConnectError",
    "bearer", "service", "operator", "UNSET", "framing", "pb",
]
__version__ = "0.1.0"
