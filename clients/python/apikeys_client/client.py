"""The high-level client: credentials in metadata and a typed method per RPC (§4, §7)."""

from __future__ import annotations

import ssl as ssl_module
from typing import Any, Mapping

from google.protobuf.message import Message

from . import framing
from .connection import Connection
from .proto.apikeys.v1 import (
    conformance_pb2, directory_pb2, events_pb2, health_pb2, keys_pb2, settings_pb2,
    verification_pb2,
)

__all__ = ["Client", "bearer", "service", "operator", "UNSET"]


class _Unset:
    def __repr__(self) -> str:
        return "UNSET"


#: "Keep the client's default" for the per-call ``credential``/``tenant``/``user``
#: options (None means "send none").
UNSET: Any = _Unset()


def bearer(api_key_secret: str) -> str:
    """``authorization`` value acting as the owner of an API key."""
    return f"Bearer {api_key_secret}"


def service(credential_secret: str) -> str:
    """``authorization`` value of a trusted internal service (use with tenant and user)."""
    return f"Service {credential_secret}"


def operator(credential_secret: str) -> str:
    """``authorization`` value of the operator (provisioning)."""
    return f"Operator {credential_secret}"


class Client:
    """An apikeys client: a :class:`Connection` plus default credentials.

        client = await Client.connect("127.0.0.1", 7420, credential=operator(secret))
        await client.directory.create_tenant(tenant_id="acme", name="Acme")
        alice = client.with_auth(service(svc_secret), tenant="acme", user="alice")
        await alice.tenant_settings.update(api_keys_enabled=True)
        await client.close()

    ``credential`` is the whole ``authorization`` value (see :func:`bearer`,
    :func:`service`, :func:`operator`); ``tenant``/``user`` become ``x-tenant-id`` and
    ``x-user-id``. Every method takes per-call ``credential=``, ``tenant=``, ``user=``,
    ``metadata=`` (merged last) and ``timeout=`` (seconds) overrides.

    Services: ``health``, ``directory``, ``tenant_settings`` (the Settings service:
    ``client.settings`` is the server's ``ServerSettings`` frame), ``keys``,
    ``verification``, ``events``, ``conformance``.
    """

    def __init__(self, connection: Connection, *, credential: str | None = None,
                 tenant: str | None = None, user: str | None = None,
                 metadata: Mapping[str, str] | None = None):
        self.connection = connection
        self.credential = credential
        self.tenant = tenant
        self.user = user
        self.default_metadata = dict(metadata or {})
        self.health = Health(self)
        self.directory = Directory(self)
        self.tenant_settings = Settings(self)
        self.keys = Keys(self)
        self.verification = Verification(self)
        self.events = Events(self)
        self.conformance = Conformance(self)

    @classmethod
    async def connect(cls, host: str = "127.0.0.1", port: int = framing.DEFAULT_PORT, *,
                      credential: str | None = None, tenant: str | None = None,
                      user: str | None = None, metadata: Mapping[str, str] | None = None,
                      timeout: float | None = 10.0, ssl: "ssl_module.SSLContext | None" = None,
                      server_hostname: str | None = None, **connection_options) -> "Client":
        """Open a connection (preface, settings). ``ssl`` (an :class:`ssl.SSLContext`) and
        ``server_hostname`` go to :func:`asyncio.open_connection` for TLS. ``connection_options``
        go to :class:`Connection` (``max_in_flight``, ``enforce_max_frame_size``, ``preface``)."""
        conn = await Connection.open(host, port, timeout=timeout, ssl=ssl, server_hostname=server_hostname,
                                     **connection_options)
        return cls(conn, credential=credential, tenant=tenant, user=user, metadata=metadata)

    def with_auth(self, credential: str | None = UNSET, tenant: str | None = UNSET,
                  user: str | None = UNSET) -> "Client":
        """Another client on the same connection with other default credentials."""
        return Client(self.connection,
                      credential=self.credential if credential is UNSET else credential,
                      tenant=self.tenant if tenant is UNSET else tenant,
                      user=self.user if user is UNSET else user,
                      metadata=self.default_metadata)

    @property
    def settings(self):
        """The server's ``ServerSettings`` (limits) received at connection set-up."""
        return self.connection.settings

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

    async def call(self, method: str, request: Message, response_type, *,
                   metadata: Mapping[str, str] | None = None, timeout: float | None = None,
                   credential: str | None = UNSET, tenant: str | None = UNSET,
                   user: str | None = UNSET):
        """One call with this client's credentials; see :meth:`Connection.call`."""
        md = self.build_metadata(credential=credential, tenant=tenant, user=user, metadata=metadata)
        return await self.connection.call(method, request, response_type, metadata=md, timeout=timeout)

    async def ping(self, timeout: float | None = 10.0) -> float:
        return await self.connection.ping(timeout)

    async def close(self, *, graceful: bool = False) -> None:
        await self.connection.close(graceful=graceful)

    async def __aenter__(self) -> "Client":
        return self

    async def __aexit__(self, *exc) -> None:
        await self.close()


def _unary(path: str, request_type, response_type):
    """A typed method: pass a request message, or its fields as keyword arguments."""

    async def method(self, request=None, /, *, metadata=None, timeout=None,
                     credential=UNSET, tenant=UNSET, user=UNSET, **fields):
        if request is None:
            request = request_type(**fields)
        elif fields:
            raise TypeError("pass either a request message or its fields, not both")
        elif not isinstance(request, request_type):
            raise TypeError(f"{path} takes a {request_type.DESCRIPTOR.full_name}, "
                            f"not {type(request).__name__}")
        return await self._client.call(path, request, response_type, metadata=metadata,
                                       timeout=timeout, credential=credential, tenant=tenant,
                                       user=user)

    method.__doc__ = (f"``{path}``: {request_type.DESCRIPTOR.full_name} -> "
                      f"{response_type.DESCRIPTOR.full_name}")
    method.path = path
    method.request_type = request_type
    method.response_type = response_type
    return method


class _Service:
    def __init__(self, client: Client):
        self._client = client


class Health(_Service):
    check = _unary("/apikeys.v1.Health/Check", health_pb2.HealthCheckRequest, health_pb2.HealthCheckResponse)


class Directory(_Service):
    _d = directory_pb2
    create_tenant = _unary("/apikeys.v1.Directory/CreateTenant", _d.CreateTenantRequest, _d.CreateTenantResponse)
    create_user = _unary("/apikeys.v1.Directory/CreateUser", _d.CreateUserRequest, _d.CreateUserResponse)
    remove_user = _unary("/apikeys.v1.Directory/RemoveUser", _d.RemoveUserRequest, _d.RemoveUserResponse)
    create_service_credential = _unary("/apikeys.v1.Directory/CreateServiceCredential",
                                       _d.CreateServiceCredentialRequest, _d.CreateServiceCredentialResponse)
    # X18, operator only.
    create_operator_credential = _unary("/apikeys.v1.Directory/CreateOperatorCredential",
                                        _d.CreateOperatorCredentialRequest, _d.CreateOperatorCredentialResponse)
    list_credentials = _unary("/apikeys.v1.Directory/ListCredentials",
                              _d.ListCredentialsRequest, _d.ListCredentialsResponse)
    rotate_credential = _unary("/apikeys.v1.Directory/RotateCredential",
                               _d.RotateCredentialRequest, _d.RotateCredentialResponse)
    revoke_credential = _unary("/apikeys.v1.Directory/RevokeCredential",
                               _d.RevokeCredentialRequest, _d.RevokeCredentialResponse)
    assign_role = _unary("/apikeys.v1.Directory/AssignRole", _d.AssignRoleRequest, _d.UserResponse)
    remove_role = _unary("/apikeys.v1.Directory/RemoveRole", _d.RemoveRoleRequest, _d.UserResponse)
    set_license = _unary("/apikeys.v1.Directory/SetLicense", _d.SetLicenseRequest, _d.UserResponse)
    get_user = _unary("/apikeys.v1.Directory/GetUser", _d.GetUserRequest, _d.UserResponse)
    list_users = _unary("/apikeys.v1.Directory/ListUsers", _d.ListUsersRequest, _d.ListUsersResponse)


class Settings(_Service):
    _s = settings_pb2
    get = _unary("/apikeys.v1.Settings/Get", _s.GetSettingsRequest, _s.GetSettingsResponse)
    update = _unary("/apikeys.v1.Settings/Update", _s.UpdateSettingsRequest, _s.UpdateSettingsResponse)


class Keys(_Service):
    _k = keys_pb2
    generate = _unary("/apikeys.v1.Keys/Generate", _k.GenerateKeyRequest, _k.GenerateKeyResponse)
    list = _unary("/apikeys.v1.Keys/List", _k.ListKeysRequest, _k.ListKeysResponse)
    get = _unary("/apikeys.v1.Keys/Get", _k.GetKeyRequest, _k.GetKeyResponse)
    rename = _unary("/apikeys.v1.Keys/Rename", _k.RenameKeyRequest, _k.RenameKeyResponse)
    revoke = _unary("/apikeys.v1.Keys/Revoke", _k.RevokeKeyRequest, _k.RevokeKeyResponse)
    revoke_many = _unary("/apikeys.v1.Keys/RevokeMany", _k.RevokeKeysRequest, _k.RevokeKeysResponse)
    delete = _unary("/apikeys.v1.Keys/Delete", _k.DeleteKeyRequest, _k.DeleteKeyResponse)


class Verification(_Service):
    verify = _unary("/apikeys.v1.Verification/Verify", verification_pb2.VerifyRequest,
                    verification_pb2.VerifyResponse)


class Events(_Service):
    list = _unary("/apikeys.v1.Events/List", events_pb2.ListEventsRequest, events_pb2.ListEventsResponse)


class Conformance(_Service):
    empty = _unary("/apikeys.v1.Conformance/Empty", conformance_pb2.EmptyMessage, conformance_pb2.EmptyMessage)
    echo = _unary("/apikeys.v1.Conformance/Echo", conformance_pb2.EchoRequest, conformance_pb2.EchoResponse)
