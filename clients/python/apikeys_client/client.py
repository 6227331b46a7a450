"""The high-level clients: credentials in metadata and a typed method per RPC (§4, §7),
over a :class:`Channel` that reconnects; :class:`SyncClient` for blocking code."""

from __future__ import annotations

import asyncio
import ssl as ssl_module
import threading
from typing import Any, Coroutine, Mapping, TypeVar

from google.protobuf.message import Message

from . import framing
from ._base import UNSET
from .channel import Channel
from .connection import Connection
from .errors import RpcError, StatusCode
from .methods import Method
from .services import AsyncServices, SyncServices

__all__ = ["Client", "SyncClient", "bearer", "service", "operator", "UNSET"]

T = TypeVar("T")


def bearer(api_key_secret: str) -> str:
    """``authorization`` value acting as the owner of an API key."""
    return f"Bearer {api_key_secret}"


def service(credential_secret: str) -> str:
    """``authorization`` value of a trusted internal service (use with tenant and user)."""
    return f"Service {credential_secret}"


def operator(credential_secret: str) -> str:
    """``authorization`` value of the operator (provisioning)."""
    return f"Operator {credential_secret}"


class Client(AsyncServices):
    """An apikeys client: a pool of connections to one server plus default credentials.

        client = Client("127.0.0.1", 7420, credential=service(secret))   # connects lazily
        principal = (await client.verification.verify(secret=key)).principal
        await client.close()

    or ``await Client.connect(...)`` to connect at once (and fail now if the server is not
    there). Connections are opened on demand (up to ``pool_size``), replaced when they end
    or the server sends GoAway, with jittered backoff between failed attempts; calls the
    server reports as not run are sent again. Every failure is an :class:`RpcError`.

    ``credential`` is the whole ``authorization`` value (see :func:`bearer`,
    :func:`service`, :func:`operator`); ``tenant``/``user`` become ``x-tenant-id`` and
    ``x-user-id``. Every method takes per-call ``credential=``, ``tenant=``, ``user=``,
    ``metadata=`` (merged last) and ``timeout=`` (seconds) overrides.

    Services: ``health``, ``directory``, ``tenant_settings`` (the Settings service:
    ``client.settings`` is the server's ``ServerSettings`` frame), ``keys``,
    ``verification``, ``events``, ``conformance``. Pool options are :class:`Channel`'s
    (``pool_size``, ``connect_timeout``, ``wait_for_connection``, ``backoff_initial``,
    ``backoff_max``, ``max_retries``) and :class:`Connection`'s (``max_in_flight``,
    ``enforce_max_frame_size``).
    """

    def __init__(self, host: str = "127.0.0.1", port: int = framing.DEFAULT_PORT, *,
                 credential: str | None = None, tenant: str | None = None,
                 user: str | None = None, metadata: Mapping[str, str] | None = None,
                 ssl: "ssl_module.SSLContext | None" = None, server_hostname: str | None = None,
                 **channel_options):
        self._init(Channel(host, port, ssl=ssl, server_hostname=server_hostname, **channel_options),
                   credential, tenant, user, metadata)

    def _init(self, channel: Channel, credential, tenant, user, metadata) -> None:
        self.channel = channel
        self.credential = credential
        self.tenant = tenant
        self.user = user
        self.default_metadata = dict(metadata or {})
        self._init_services()

    @classmethod
    async def connect(cls, host: str = "127.0.0.1", port: int = framing.DEFAULT_PORT, *,
                      credential: str | None = None, tenant: str | None = None,
                      user: str | None = None, metadata: Mapping[str, str] | None = None,
                      timeout: float | None = 10.0, ssl: "ssl_module.SSLContext | None" = None,
                      server_hostname: str | None = None, **channel_options) -> "Client":
        """A client with its first connection open (one attempt, bounded by ``timeout``):
        raises :class:`ConnectError` (an ``RpcError`` UNAVAILABLE) now if there is no
        server. Later connections are replaced as with a lazily connected client.
        ``timeout`` is the ``connect_timeout`` of every connection."""
        channel_options.setdefault("connect_timeout", timeout)
        client = cls(host, port, credential=credential, tenant=tenant, user=user, metadata=metadata,
                     ssl=ssl, server_hostname=server_hostname, **channel_options)
        try:
            await client.channel.connect_now()
        except BaseException:
            await client.close()
            raise
        return client

    def with_auth(self, credential: str | None = UNSET, tenant: str | None = UNSET,
                  user: str | None = UNSET) -> "Client":
        """Another client on the same connections with other default credentials."""
        other = Client.__new__(Client)
        other._init(self.channel,
                    self.credential if credential is UNSET else credential,
                    self.tenant if tenant is UNSET else tenant,
                    self.user if user is UNSET else user,
                    self.default_metadata)
        return other

    @property
    def connection(self) -> Connection | None:
        """The connection the last call went to (None before the first connection)."""
        return self.channel.current

    @property
    def settings(self):
        """The server's ``ServerSettings`` (limits), from the current connection."""
        conn = self.channel.current
        return conn.settings if conn is not None else None

    def build_metadata(self, *, credential: str | None = UNSET, tenant: str | None = UNSET,
                       user: str | None = UNSET,
                       metadata: Mapping[str, str] | None = None) -> dict[str, str]:
        md = dict(self.default_metadata)
        credential = self.credential if credential is UNSET else credential
        tenant = self.tenant if tenant is UNSET else tenant
        user = self.user if user is UNSET else user
        if credential is not None:
            md["authorization"] = credential
        if tenant is not None:
            md["x-tenant-id"] = tenant
        if user is not None:
            md["x-user-id"] = user
        if metadata:
            md.update(metadata)
        return md

    async def call(self, method: "Method | str", request: Message, response_type=None, *,
                   metadata: Mapping[str, str] | None = None, timeout: float | None = None,
                   credential: str | None = UNSET, tenant: str | None = UNSET,
                   user: str | None = UNSET):
        """One call with this client's credentials: ``method`` is a :class:`Method`
        (``methods.get("Keys", "List")``) or a path (for methods this client does not
        know); ``response_type`` defaults to the method's."""
        idempotent = None
        if isinstance(method, Method):
            response_type = response_type or method.response_type
            idempotent = method.idempotent
            method = method.path
        if response_type is None:
            raise TypeError("a call by path needs its response_type")
        md = self.build_metadata(credential=credential, tenant=tenant, user=user, metadata=metadata)
        return await self.channel.call(method, request, response_type, metadata=md, timeout=timeout,
                                       idempotent=idempotent)

    async def ping(self, timeout: float | None = 10.0) -> float:
        """Round trip of a Ping on a pooled connection, in seconds."""
        return await self.channel.ping(timeout)

    async def close(self, *, graceful: bool = False) -> None:
        """Close every connection (of every client made by :meth:`with_auth` too)."""
        await self.channel.close(graceful=graceful)

    async def __aenter__(self) -> "Client":
        return self

    async def __aexit__(self, *exc) -> None:
        await self.close()


class SyncClient(SyncServices):
    """A blocking client for code without an event loop (Flask, Django, scripts): the same
    services, methods, options and errors as :class:`Client`, run on an event loop in a
    background thread that the client owns.

        client = SyncClient("127.0.0.1", 7420, credential=service(secret))
        principal = client.verification.verify(secret=key).principal
        client.close()

    Safe to share between threads (calls from several threads run concurrently on the
    pool). Do not call it from inside a coroutine of its own loop.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = framing.DEFAULT_PORT, *,
                 connect: bool = False, **options):
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="apikeys-client-loop",
                                        daemon=True)
        self._thread.start()
        self._owner = True
        try:
            # The async client is made on its loop: its futures and events belong there.
            factory = Client.connect(host, port, **options) if connect else _make_client(host, port, options)
            self._attach(self._run(factory))
        except BaseException:
            self._stop_loop()
            raise

    @classmethod
    def connect(cls, host: str = "127.0.0.1", port: int = framing.DEFAULT_PORT, **options) -> "SyncClient":
        """Like :meth:`Client.connect`: the first connection is opened now."""
        return cls(host, port, connect=True, **options)

    def _attach(self, client: Client) -> None:
        self.aio = client  #: the async :class:`Client` underneath
        self._init_services(client)

    def _run(self, coro: Coroutine[Any, Any, T]) -> T:
        if threading.current_thread() is self._thread:
            coro.close()
            raise RuntimeError("SyncClient called from its own event-loop thread; use the async client")
        if self._loop.is_closed():
            coro.close()
            raise RpcError(StatusCode.CANCELLED, "the client is closed")
        future = asyncio.run_coroutine_threadsafe(coro, self._loop)
        try:
            return future.result()
        except BaseException:
            future.cancel()  # e.g. KeyboardInterrupt: the call is cancelled, a Cancel frame sent
            raise

    def with_auth(self, credential: str | None = UNSET, tenant: str | None = UNSET,
                  user: str | None = UNSET) -> "SyncClient":
        """Another client on the same connections and thread with other credentials."""
        other = SyncClient.__new__(SyncClient)
        other._loop, other._thread, other._owner = self._loop, self._thread, False
        other._attach(self.aio.with_auth(credential, tenant, user))
        return other

    @property
    def connection(self) -> Connection | None:
        return self.aio.connection

    @property
    def settings(self):
        return self.aio.settings

    def call(self, method: "Method | str", request: Message, response_type=None, **options):
        return self._run(self.aio.call(method, request, response_type, **options))

    def ping(self, timeout: float | None = 10.0) -> float:
        return self._run(self.aio.ping(timeout))

    def close(self, *, graceful: bool = False) -> None:
        """Close the connections; the client that made the thread also stops it."""
        if self._loop.is_closed():
            return
        try:
            self._run(self.aio.close(graceful=graceful))
        finally:
            if self._owner:
                self._stop_loop()

    def _stop_loop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        if not self._thread.is_alive():
            self._loop.close()

    def __enter__(self) -> "SyncClient":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


async def _make_client(host: str, port: int, options: dict) -> Client:
    return Client(host, port, **options)
