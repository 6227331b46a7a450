#!/usr/bin/env python3
"""Writes the seed corpora under Fuzz/corpus/ (committed; rerun after a proto change).

frame/   a client's byte stream: the preface, then one or more frames of every kind.
message/ byte 0 = index into Sources/CAPIKeysCodec/generated/apikeys_types.inc, then one
         valid encoded message of that type (and one per oneof member).
swift/   byte 0 = the mode of Fuzz/swift (see FuzzWire.swift), then the bytes of that mode.

Uses the Python messages generated from proto/ (clients/python); writes small files only.
"""
import os
import re
import shutil
import struct
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "clients", "python"))

from google.protobuf.descriptor import FieldDescriptor as FD  # noqa: E402
from google.protobuf import symbol_database  # noqa: E402
from apikeys_client.proto.apikeys.v1 import (  # noqa: E402
    conformance_pb2, directory_pb2, events_pb2, frame_pb2, health_pb2, keys_pb2,
    settings_pb2, verification_pb2,
)

MODULES = [conformance_pb2, directory_pb2, events_pb2, frame_pb2, health_pb2, keys_pb2,
           settings_pb2, verification_pb2]
CORPUS = os.path.join(ROOT, "Fuzz", "corpus")
TYPES_INC = os.path.join(ROOT, "Sources", "CAPIKeysCodec", "generated", "apikeys_types.inc")
PREFACE = b"APIKEYS\x01"

# Modes of the Swift harness, in the order of Fuzz/swift/Sources/FuzzWire/FuzzWire.swift.
SWIFT_MODES = ["server-stream", "server-stream-split", "frames", "body",
               "VerifyRequest", "GenerateKeyRequest", "ListKeysRequest", "UpdateSettingsRequest",
               "EchoRequest"]


def c_symbol(full_name):
    """protoc-c's descriptor symbol for a message, e.g. apikeys__v1__api_key__descriptor."""
    parts = full_name.split(".")
    lower = [re.sub(r"(?<!^)([A-Z])", r"_\1", p).lower() for p in parts]
    return "__".join(lower) + "__descriptor"


def all_descriptors():
    found = {}

    def visit(d):
        found[d.full_name] = d
        for nested in d.nested_types:
            visit(nested)

    for module in MODULES:
        for d in module.DESCRIPTOR.message_types_by_name.values():
            visit(d)
    return found


def type_table():
    """The message types in the order of apikeys_types.inc, which the C harness indexes."""
    symbols = re.findall(r"&(\w+__descriptor)", open(TYPES_INC).read())
    by_symbol = {c_symbol(name): d for name, d in all_descriptors().items()}
    missing = [s for s in symbols if s not in by_symbol]
    if missing or len(symbols) != len(by_symbol):
        sys.exit(f"gen_corpus: apikeys_types.inc and the Python modules disagree: {missing}")
    return [by_symbol[s] for s in symbols]


def message_class(d):
    return symbol_database.Default().GetSymbol(d.full_name)


def sample(field, index):
    t = field.type
    if t == FD.TYPE_STRING:
        return f"{field.name[:6]}-{index}é"
    if t == FD.TYPE_BYTES:
        return bytes([index, 0, 0xFF, 0x80])
    if t == FD.TYPE_BOOL:
        return True
    if t == FD.TYPE_ENUM:
        values = field.enum_type.values
        return values[min(index + 1, len(values) - 1)].number
    if t in (FD.TYPE_INT32, FD.TYPE_SINT32, FD.TYPE_SFIXED32):
        return -7 - index
    if t in (FD.TYPE_INT64, FD.TYPE_SINT64, FD.TYPE_SFIXED64):
        return -1_700_000_000_000 - index
    if t in (FD.TYPE_UINT32, FD.TYPE_FIXED32):
        return 300 + index
    if t in (FD.TYPE_UINT64, FD.TYPE_FIXED64):
        return 1 << 40 | index
    raise ValueError(f"no sample for {field.full_name}")


def fill(msg, depth=0, oneof_choice=None):
    """Sets every field (two elements per repeated field and map); one member per oneof."""
    for field in msg.DESCRIPTOR.fields:
        oneof = field.containing_oneof
        if oneof is not None:
            chosen = (oneof_choice or {}).get(oneof.name, oneof.fields[0].name)
            if field.name != chosen:
                continue
        if field.message_type is not None and field.message_type.GetOptions().map_entry:
            value_field = field.message_type.fields_by_name["value"]
            for i in range(2):
                key = f"k{i}"
                if value_field.message_type is not None:
                    fill(getattr(msg, field.name)[key], depth + 1)
                else:
                    getattr(msg, field.name)[key] = sample(value_field, i)
        elif field.label == FD.LABEL_REPEATED:
            for i in range(2):
                if field.message_type is not None:
                    if depth < 3:
                        fill(getattr(msg, field.name).add(), depth + 1)
                else:
                    getattr(msg, field.name).append(sample(field, i))
        elif field.message_type is not None:
            if depth < 3:
                fill(getattr(msg, field.name), depth + 1)
                getattr(msg, field.name).SetInParent()
        else:
            setattr(msg, field.name, sample(field, 0))
    return msg


def oneof_variants(d):
    """{} for the default fill, then one choice per non-first member of each oneof."""
    variants = [{}]
    for oneof in d.oneofs:
        for member in list(oneof.fields)[1:]:
            variants.append({oneof.name: member.name})
    return variants


def framed(frame):
    body = frame.SerializeToString()
    return struct.pack(">I", len(body)) + body


def frame_seeds():
    F = frame_pb2
    verify = verification_pb2.VerifyRequest(secret="ak_live_0123456789").SerializeToString()
    request = F.Frame(request=F.Request(
        call_id=1, method="/apikeys.v1.Verification/Verify",
        metadata={"authorization": "Service svc-cred", "x-tenant-id": "t1", "x-user-id": "u1"},
        timeout_micros=5_000_000, message=verify))
    details = F.ErrorDetails(rule="R17", reason="no_license").SerializeToString()
    response = F.Frame(response=F.Response(
        call_id=7, status=F.Status(code=F.PERMISSION_DENIED, message="no license", details=details),
        message=b"\x0a\x02ok"))
    seeds = {
        "request": framed(request),
        "request-health": framed(F.Frame(request=F.Request(call_id=1, method="/apikeys.v1.Health/Check"))),
        "response": framed(response),
        "response-ok": framed(F.Frame(response=F.Response(call_id=2, status=F.Status(), message=b"\x08\x01"))),
        "cancel": framed(F.Frame(cancel=F.Cancel(call_id=3))),
        "ping": framed(F.Frame(ping=F.Ping(data=0x1122334455667788))),
        "pong": framed(F.Frame(pong=F.Pong(data=42))),
        "goaway": framed(F.Frame(goaway=F.GoAway(last_call_id=9, reason=F.GOAWAY_PROTOCOL_ERROR, message="bye"))),
        "settings": framed(F.Frame(settings=F.ServerSettings(
            protocol_version=1, max_frame_size=4 << 20, max_concurrent_calls=100,
            idle_timeout_millis=300_000, keepalive_interval_millis=60_000, server="apikeysd"))),
        "empty-body": struct.pack(">I", 0),
        "too-large": struct.pack(">I", (4 << 20) + 1),
    }
    seeds["stream"] = seeds["request-health"] + seeds["ping"] + seeds["cancel"] + seeds["goaway"]
    return seeds


def request_seeds():
    return {
        "VerifyRequest": verification_pb2.VerifyRequest(secret="ak_live_0123456789"),
        "GenerateKeyRequest": keys_pb2.GenerateKeyRequest(name="ci key", expires_in_seconds=86400),
        "ListKeysRequest": keys_pb2.ListKeysRequest(
            search="ci", status=keys_pb2.KEY_STATUS_ACTIVE, sort_by=keys_pb2.KEY_SORT_FIELD_NAME,
            descending=True, page_size=50, page_token="p2"),
        "UpdateSettingsRequest": settings_pb2.UpdateSettingsRequest(
            api_keys_enabled=True, max_expiry_seconds=3600, max_keys_per_user=5, excessive_use_per_minute=600),
        "EchoRequest": conformance_pb2.EchoRequest(
            status_code=5, status_message="nope", sleep_millis=0, response_size=16, payload=b"\x00\x01\x02",
            echo_metadata=True),
    }


def write(directory, name, data):
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, name), "wb") as f:
        f.write(data)


def main():
    for sub in ("frame", "message", "swift"):
        shutil.rmtree(os.path.join(CORPUS, sub), ignore_errors=True)

    frames = frame_seeds()
    for name, data in frames.items():
        write(os.path.join(CORPUS, "frame"), name, PREFACE + data)
    write(os.path.join(CORPUS, "frame"), "preface-only", PREFACE)
    write(os.path.join(CORPUS, "frame"), "bad-version", b"APIKEYS\x02")

    for index, d in enumerate(type_table()):
        for n, choice in enumerate(oneof_variants(d)):
            body = fill(message_class(d)(), oneof_choice=choice).SerializeToString()
            suffix = f"-{n}" if n else ""
            write(os.path.join(CORPUS, "message"), f"{index:02d}-{d.full_name.removeprefix('apikeys.v1.')}{suffix}", bytes([index]) + body)

    swift = os.path.join(CORPUS, "swift")
    for name, data in frames.items():
        write(swift, f"0-{name}", bytes([0]) + PREFACE + data)
        write(swift, f"2-{name}", bytes([2]) + data)
        if len(data) > 4:
            write(swift, f"3-{name}", bytes([3]) + data[4:])
    write(swift, "1-stream", bytes([1, 13]) + PREFACE + frames["stream"])
    for name, message in request_seeds().items():
        write(swift, f"{SWIFT_MODES.index(name)}-{name}", bytes([SWIFT_MODES.index(name)]) + message.SerializeToString())
    for sub in ("frame", "message", "swift"):
        print(f"gen_corpus: {len(os.listdir(os.path.join(CORPUS, sub)))} files in Fuzz/corpus/{sub}")


if __name__ == "__main__":
    main()
