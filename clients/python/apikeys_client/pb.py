"""Every message and enum of ``proto/apikeys/v1`` in one flat namespace.

    from apikeys_client import pb
    pb.GenerateKeyRequest(name="ci", expires_in_seconds=3600)
    pb.ROLE_DEVELOPER, pb.KEY_STATUS_REVOKED
"""

from .proto.apikeys.v1 import (  # noqa: F401
    conformance_pb2, directory_pb2, events_pb2, frame_pb2, health_pb2, keys_pb2,
    settings_pb2, verification_pb2,
)

MODULES = (frame_pb2, health_pb2, directory_pb2, settings_pb2, keys_pb2,
           verification_pb2, events_pb2, conformance_pb2)

__all__ = []


def _export() -> None:
    g = globals()
    for module in MODULES:
        descriptor = module.DESCRIPTOR
        for name in descriptor.message_types_by_name:
            g[name] = getattr(module, name)
            __all__.append(name)
        for name, enum in descriptor.enum_types_by_name.items():
            g[name] = getattr(module, name)
            __all__.append(name)
            for value in enum.values:
                g[value.name] = value.number
                __all__.append(value.name)


_export()
del _export
