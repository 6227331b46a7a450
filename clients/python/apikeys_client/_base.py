"""What the generated service classes (``services.py``) call into."""

from __future__ import annotations

from typing import Any, Mapping

from .methods import Method

__all__ = ["UNSET", "AsyncService", "SyncService"]


class _Unset:
    def __repr__(self) -> str:
        return "UNSET"


#: "Keep the client's default" for the per-call ``credential``/``tenant``/``user``
#: options (None means "send none").
UNSET: Any = _Unset()


def build_request(method: Method, request, fields: Mapping[str, Any]):
    """The request message: ``request`` as given, or one built from the fields that are
    not None (None leaves a field unset, which also leaves a oneof member unchosen)."""
    given = {k: v for k, v in fields.items() if v is not None}
    if request is None:
        return method.request_type(**given)
    if given:
        raise TypeError(f"{method.path}: pass either a request message or its fields, not both")
    if not isinstance(request, method.request_type):
        raise TypeError(f"{method.path} takes a {method.request_type.DESCRIPTOR.full_name}, "
                        f"not {type(request).__name__}")
    return request


class AsyncService:
    """A service's methods on an async :class:`~apikeys_client.Client`."""

    def __init__(self, client):
        self._client = client

    async def _call(self, method: Method, request, fields, metadata, timeout, credential, tenant, user):
        return await self._client.call(method, build_request(method, request, fields),
                                       method.response_type, metadata=metadata, timeout=timeout,
                                       credential=credential, tenant=tenant, user=user)


class SyncService:
    """A service's methods on a :class:`~apikeys_client.SyncClient`: each runs the async
    method on the client's event-loop thread and waits for it."""

    def __init__(self, sync_client, async_service: AsyncService):
        self._run = sync_client._run
        self._async = async_service
