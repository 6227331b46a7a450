"""The method table, read from the service descriptors of the generated ``_pb2`` modules.

No method path is written by hand: each comes from ``proto/apikeys/v1``'s ``service``
blocks, as compiled into the ``_pb2`` modules, at import time.

    from apikeys_client import methods
    m = methods.get("Verification", "Verify")
    m.path                # "/apikeys.v1.Verification/Verify"
    m.request_type        # VerifyRequest
    methods.METHODS       # every method, by path
"""

from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType

from .proto.apikeys.v1 import (
    conformance_pb2, directory_pb2, events_pb2, frame_pb2, health_pb2, keys_pb2,
    settings_pb2, verification_pb2,
)

__all__ = ["Method", "METHODS", "MODULES", "get", "method"]

#: Every generated module, in proto order.
MODULES: tuple[ModuleType, ...] = (frame_pb2, health_pb2, directory_pb2, settings_pb2, keys_pb2,
                                   verification_pb2, events_pb2, conformance_pb2)

# Message classes by full name, across modules (a method may take another file's type).
_MESSAGES = {getattr(m, name).DESCRIPTOR.full_name: getattr(m, name)
             for m in MODULES for name in m.DESCRIPTOR.message_types_by_name}


# Methods that change nothing a second call could disturb (Verify only bumps usage
# counters), by name, while the proto declares no `idempotency_level` (which wins once set).
_READ_ONLY_NAMES = ("Check", "Verify")
_READ_ONLY_PREFIXES = ("Get", "List")


def _idempotent(md) -> bool:
    level = md.GetOptions().idempotency_level
    if level:  # NO_SIDE_EFFECTS (1) or IDEMPOTENT (2)
        return True
    return md.name in _READ_ONLY_NAMES or md.name.startswith(_READ_ONLY_PREFIXES)


@dataclass(frozen=True)
class Method:
    """One RPC: ``/<package>.<Service>/<Method>`` and its message classes.

    ``idempotent``: sending it twice is harmless, so the client may send it again when its
    connection broke before the answer (it may or may not have run)."""

    service: str        # full name, e.g. "apikeys.v1.Verification"
    name: str           # e.g. "Verify"
    request_type: type
    response_type: type
    idempotent: bool = False

    @property
    def path(self) -> str:
        return f"/{self.service}/{self.name}"

    def __str__(self) -> str:
        return self.path


def _collect() -> dict[str, Method]:
    table: dict[str, Method] = {}
    for module in MODULES:
        for service in module.DESCRIPTOR.services_by_name.values():
            for md in service.methods:
                m = Method(service.full_name, md.name, _MESSAGES[md.input_type.full_name],
                           _MESSAGES[md.output_type.full_name], _idempotent(md))
                table[m.path] = m
    return table


#: Every method of every service, keyed by path.
METHODS: dict[str, Method] = _collect()


def get(service: str, name: str) -> Method:
    """The method ``name`` of ``service`` (short, "Keys", or full, "apikeys.v1.Keys")."""
    full = service if "." in service else f"{frame_pb2.DESCRIPTOR.package}.{service}"
    try:
        return METHODS[f"/{full}/{name}"]
    except KeyError:
        raise KeyError(f"no method {name} in service {full}") from None


def method(module: ModuleType, service: str, name: str) -> Method:
    """The method ``name`` of ``service`` declared in ``module`` (used by the generated
    service classes: a missing method fails at import, not at the first call)."""
    sd = module.DESCRIPTOR.services_by_name[service]
    return METHODS[f"/{sd.full_name}/{sd.methods_by_name[name].name}"]
