#!/usr/bin/env python3
"""Writes the Swift surface of proto/: message structs over the C codec's field API,
method descriptors and server handler protocols per service, and the typed client methods.

    generate_swift_messages.py DESCRIPTORS WIRE_DIR CLIENT_DIR

DESCRIPTORS is a FileDescriptorSet (protoc --descriptor_set_out --include_imports).
WIRE_DIR gets Messages.swift and Services.swift (target APIKeysWire); CLIENT_DIR gets
APIKeysClient+Methods.swift (target APIKeysClient). Everything lives in the namespace
`APIKeysV1`, so no generated name clashes with a domain type (Principal, Role, ...).
The frame envelope (frame.proto) is handled by the C frame API, so of that file only
ErrorDetails is generated. A oneof with one member becomes an optional property;
with several, an enum.
"""
import os
import re
import sys

from google.protobuf import descriptor_pb2 as d

F = d.FieldDescriptorProto
SKIPPED = {"Frame", "Request", "Response", "Status", "Cancel", "Ping", "Pong", "GoAway", "ServerSettings"}
SKIPPED_ENUMS = {"Code", "GoAwayReason"}


def camel(name, upper=False):
    # Swift style for initialisms, as swift-protobuf does: tenant_id -> tenantID, key_ids -> keyIDs.
    initialisms = {"id": "ID", "ids": "IDs"}
    parts = name.split("_")
    out = parts[0] + "".join(initialisms.get(p, p[:1].upper() + p[1:]) for p in parts[1:])
    out = out[:1].upper() + out[1:] if upper else out
    return "`%s`" % out if out in {"default", "internal", "public", "protocol", "extension", "static", "operator"} else out


def swift_case(enum_name, value_name):
    # KEY_STATUS_ACTIVE in enum KeyStatus -> active; ROLE_TENANT_ADMIN -> tenantAdmin.
    prefix = re.sub(r"(?<!^)(?=[A-Z])", "_", enum_name).upper() + "_"
    name = value_name[len(prefix):] if value_name.startswith(prefix) else value_name
    return camel(name.lower())


class Generator:
    def __init__(self, files):
        self.out = []
        self.messages = {}  # full name -> (DescriptorProto, swift name)
        self.enums = {}     # full name -> (EnumDescriptorProto, swift name)
        for f in files:
            pkg = "." + f.package
            for m in f.message_type:
                self.index_message(m, pkg, "")
            for e in f.enum_type:
                self.enums[pkg + "." + e.name] = (e, e.name)

    def index_message(self, m, scope, swift_scope):
        full = scope + "." + m.name
        swift = swift_scope + m.name
        self.messages[full] = (m, swift)
        for n in m.nested_type:
            self.index_message(n, full, swift + ".")
        for e in m.enum_type:
            self.enums[full + "." + e.name] = (e, swift + "." + e.name)

    def emit(self, line=""):
        self.out.append(line)

    def is_map(self, field):
        if field.type != F.TYPE_MESSAGE:
            return False
        m, _ = self.messages[field.type_name]
        return m.options.map_entry

    def swift_type(self, field):
        t = field.type
        if t == F.TYPE_STRING:
            base = "String"
        elif t == F.TYPE_BYTES:
            base = "[UInt8]"
        elif t == F.TYPE_BOOL:
            base = "Bool"
        elif t in (F.TYPE_UINT32, F.TYPE_FIXED32):
            base = "UInt32"
        elif t in (F.TYPE_UINT64, F.TYPE_FIXED64):
            base = "UInt64"
        elif t in (F.TYPE_INT32, F.TYPE_SINT32, F.TYPE_SFIXED32):
            base = "Int32"
        elif t in (F.TYPE_INT64, F.TYPE_SINT64, F.TYPE_SFIXED64):
            base = "Int64"
        elif t == F.TYPE_ENUM:
            base = self.enums[field.type_name][1]
        elif t == F.TYPE_MESSAGE:
            if self.is_map(field):
                return "[String: String]"
            base = self.messages[field.type_name][1]
        else:
            raise SystemExit("unsupported field type %d in %s" % (t, field.name))
        if field.label == F.LABEL_REPEATED:
            return "[%s]" % base
        if t == F.TYPE_MESSAGE:
            return base + "?"
        return base

    def default(self, field):
        if field.label == F.LABEL_REPEATED:
            return "[:]" if self.is_map(field) else "[]"
        t = field.type
        if t == F.TYPE_STRING:
            return '""'
        if t == F.TYPE_BYTES:
            return "[]"
        if t == F.TYPE_BOOL:
            return "false"
        if t == F.TYPE_ENUM:
            e, _ = self.enums[field.type_name]
            return "." + swift_case(e.name, e.value[0].name)
        if t == F.TYPE_MESSAGE:
            return "nil"
        return "0"

    def read_scalar(self, field, n):
        t = field.type
        if t == F.TYPE_STRING:
            return "reader.string(%d)" % n
        if t == F.TYPE_BYTES:
            return "reader.bytes(%d)" % n
        if t == F.TYPE_BOOL:
            return "reader.uint(%d) != 0" % n
        if t in (F.TYPE_UINT32, F.TYPE_FIXED32):
            return "UInt32(truncatingIfNeeded: reader.uint(%d))" % n
        if t in (F.TYPE_UINT64, F.TYPE_FIXED64):
            return "reader.uint(%d)" % n
        if t in (F.TYPE_INT32, F.TYPE_SINT32, F.TYPE_SFIXED32):
            return "Int32(truncatingIfNeeded: reader.int(%d))" % n
        if t in (F.TYPE_INT64, F.TYPE_SINT64, F.TYPE_SFIXED64):
            return "reader.int(%d)" % n
        if t == F.TYPE_ENUM:
            return "%s(protoValue: reader.int(%d))" % (self.enums[field.type_name][1], n)
        if t == F.TYPE_MESSAGE:
            return "reader.message(%d).map(%s.init(reader:))" % (n, self.messages[field.type_name][1])
        raise SystemExit("unsupported")

    def read_field(self, field):
        n = field.number
        if self.is_map(field):
            return "reader.stringMap(%d)" % n
        if field.label == F.LABEL_REPEATED:
            t = field.type
            if t == F.TYPE_STRING:
                return "reader.strings(%d)" % n
            if t == F.TYPE_ENUM:
                return "reader.ints(%d).map(%s.init(protoValue:))" % (n, self.enums[field.type_name][1])
            if t == F.TYPE_MESSAGE:
                return "reader.messages(%d).map(%s.init(reader:))" % (n, self.messages[field.type_name][1])
            if t in (F.TYPE_UINT64, F.TYPE_FIXED64):
                return "reader.uints(%d)" % n
            raise SystemExit("unsupported repeated type in %s" % field.name)
        return self.read_scalar(field, n)

    def write_value(self, field, value):
        n = field.number
        t = field.type
        if self.is_map(field):
            return "writer.setStringMap(%d, %s)" % (n, value)
        if field.label == F.LABEL_REPEATED:
            if t == F.TYPE_STRING:
                return "writer.addStrings(%d, %s)" % (n, value)
            if t == F.TYPE_ENUM:
                return "writer.addInts(%d, %s.map { Int64($0.protoValue) })" % (n, value)
            if t == F.TYPE_MESSAGE:
                return "for element in %s { element.write(to: writer.addMessage(%d)) }" % (value, n)
            if t in (F.TYPE_UINT64, F.TYPE_FIXED64):
                return "writer.addUInts(%d, %s)" % (n, value)
            raise SystemExit("unsupported repeated type")
        if t in (F.TYPE_STRING, F.TYPE_BYTES):
            return "writer.set(%d, %s)" % (n, value)
        if t == F.TYPE_BOOL:
            return "writer.set(%d, UInt64(%s ? 1 : 0))" % (n, value)
        if t in (F.TYPE_UINT32, F.TYPE_FIXED32, F.TYPE_UINT64, F.TYPE_FIXED64):
            return "writer.set(%d, UInt64(%s))" % (n, value)
        if t in (F.TYPE_INT32, F.TYPE_SINT32, F.TYPE_SFIXED32, F.TYPE_INT64, F.TYPE_SINT64, F.TYPE_SFIXED64):
            return "writer.set(%d, Int64(%s))" % (n, value)
        if t == F.TYPE_ENUM:
            return "writer.set(%d, Int64(%s.protoValue))" % (n, value)
        if t == F.TYPE_MESSAGE:
            return "%s.write(to: writer.setMessage(%d))" % (value, n)
        raise SystemExit("unsupported")

    def gen_enum(self, e, swift_name, indent):
        i = indent
        short = swift_name.split(".")[-1]
        self.emit(i + "public enum %s: Int32, Sendable, CaseIterable {" % short)
        for v in e.value:
            self.emit(i + "    case %s = %d" % (swift_case(e.name, v.name), v.number))
        self.emit()
        self.emit(i + "    /// Values this build does not know read as the zero value, as proto3 requires.")
        self.emit(i + "    init(protoValue: Int64) {")
        self.emit(i + "        self = Self(rawValue: Int32(truncatingIfNeeded: protoValue)) ?? .%s" % swift_case(e.name, e.value[0].name))
        self.emit(i + "    }")
        self.emit()
        self.emit(i + "    var protoValue: Int32 { rawValue }")
        self.emit(i + "}")

    def gen_message(self, m, full, indent):
        i = indent
        _, swift = self.messages[full]
        self.emit(i + "public struct %s: ProtoMessage {" % m.name)
        self.emit(i + '    public static let protoName = "%s"' % full[1:])
        self.emit(i + '    public static let protoType = ProtoType(named: protoName)')
        # Group oneof members.
        oneofs = {}
        for f in m.field:
            if f.HasField("oneof_index"):
                oneofs.setdefault(f.oneof_index, []).append(f)
        props = []  # (decl name, type, default, kind, payload)
        for f in m.field:
            if f.HasField("oneof_index"):
                members = oneofs[f.oneof_index]
                if len(members) == 1:
                    t = self.swift_type(f)
                    props.append((camel(f.name), t.rstrip("?") + "?", "nil", "single", f))
                elif members[0] is f:
                    o = m.oneof_decl[f.oneof_index]
                    props.append((camel(o.name), camel(o.name, True) + "?", "nil", "oneof", members))
            else:
                props.append((camel(f.name), self.swift_type(f), self.default(f), "plain", f))
        for name, t, _, _, _ in props:
            self.emit(i + "    public var %s: %s" % (name, t))
        self.emit()
        if props:
            args = ", ".join("%s: %s = %s" % (n.strip("`"), t, dv) for n, t, dv, _, _ in props)
            self.emit(i + "    public init(%s) {" % args)
            for n, _, _, _, _ in props:
                self.emit(i + "        self.%s = %s" % (n.strip("`"), n))
            self.emit(i + "    }")
        else:
            self.emit(i + "    public init() {}")
        self.emit()
        self.emit(i + "    public init(reader: ProtoReader) {")
        for name, t, dv, kind, payload in props:
            if kind == "plain":
                self.emit(i + "        self.%s = %s" % (name.strip("`"), self.read_field(payload)))
            elif kind == "single":
                self.emit(i + "        self.%s = reader.has(%d) ? %s : nil" % (name.strip("`"), payload.number, self.read_scalar(payload, payload.number)))
            else:
                enum = t.rstrip("?")
                chain = " else ".join(
                    "if reader.has(%d) { self.%s = .%s(%s) }" % (f.number, name.strip("`"), camel(f.name), self.read_scalar(f, f.number))
                    for f in payload)
                self.emit(i + "        %s else { self.%s = nil }" % (chain, name.strip("`")))
        if not props:
            self.emit(i + "        _ = reader")
        self.emit(i + "    }")
        self.emit()
        self.emit(i + "    public func write(to writer: ProtoWriter) {")
        for name, t, dv, kind, payload in props:
            if kind == "plain":
                f = payload
                if f.type == F.TYPE_MESSAGE and f.label != F.LABEL_REPEATED:
                    self.emit(i + "        if let %s { %s }" % (name.strip("`"), self.write_value(f, name)))
                elif f.label == F.LABEL_REPEATED or f.type in (F.TYPE_STRING, F.TYPE_BYTES):
                    self.emit(i + "        if !%s.isEmpty { %s }" % (name, self.write_value(f, name)))
                else:
                    self.emit(i + "        if %s != %s { %s }" % (name, dv, self.write_value(f, name)))
            elif kind == "single":
                self.emit(i + "        if let %s { %s }" % (name.strip("`"), self.write_value(payload, name)))
            else:
                self.emit(i + "        switch %s {" % name)
                for f in payload:
                    self.emit(i + "        case .%s(let value): %s" % (camel(f.name), self.write_value(f, "value")))
                self.emit(i + "        case nil: break")
                self.emit(i + "        }")
        if not props:
            self.emit(i + "        _ = writer")
        self.emit(i + "    }")
        for idx, members in oneofs.items():
            if len(members) > 1:
                o = m.oneof_decl[idx]
                self.emit()
                self.emit(i + "    public enum %s: Sendable, Equatable {" % camel(o.name, True))
                for f in members:
                    self.emit(i + "        case %s(%s)" % (camel(f.name), self.swift_type(f)))
                self.emit(i + "    }")
        for e in m.enum_type:
            self.emit()
            self.gen_enum(e, swift + "." + e.name, i + "    ")
        for n in m.nested_type:
            if n.options.map_entry:
                continue
            self.emit()
            self.gen_message(n, full + "." + n.name, i + "    ")
        self.emit(i + "}")


NAMESPACE = "APIKeysV1"
# Methods the server answers inline on the event loop (X8: memory only, the Verify hot path):
# their handler requirement is synchronous and they register through registerNonBlocking.
NON_BLOCKING = {"apikeys.v1.Verification/Verify"}
# Typed client names where the proto method name alone would clash across services
# (Keys/List and Events/List): the names callers have always used. Others: lowerCamel(Method).
CLIENT_NAMES = {
    "apikeys.v1.Health/Check": "health",
    "apikeys.v1.Keys/Generate": "generateKey",
    "apikeys.v1.Keys/List": "listKeys",
    "apikeys.v1.Keys/Get": "getKey",
    "apikeys.v1.Keys/Rename": "renameKey",
    "apikeys.v1.Keys/Revoke": "revokeKey",
    "apikeys.v1.Keys/RevokeMany": "revokeKeys",
    "apikeys.v1.Keys/Delete": "deleteKey",
    "apikeys.v1.Settings/Get": "getSettings",
    "apikeys.v1.Settings/Update": "updateSettings",
    "apikeys.v1.Events/List": "listEvents",
}
# Left out of the typed client: the conformance suite's test service.
CLIENT_SKIPPED_SERVICES = {"apikeys.v1.Conformance"}
IDEMPOTENCY = {0: "unknown", 1: "noSideEffects", 2: "idempotent"}
HEADER = [
    "// Generated by scripts/generate_swift_messages.py from proto/. Do not edit;",
    "// run `make proto`.",
]


def lower_camel(name):
    return name[:1].lower() + name[1:]


class Services:
    """The service surface: descriptors, handler protocols, registration, client methods."""

    def __init__(self, files, generator):
        self.g = generator
        self.services = []  # (file, ServiceDescriptorProto, full name)
        for f in files:
            for s in f.service:
                self.services.append((f, s, f.package + "." + s.name))

    def type_name(self, full):
        return self.g.messages[full][1]

    def methods(self, s, full):
        for m in s.method:
            if m.client_streaming or m.server_streaming:
                raise SystemExit("%s/%s streams: apikeys framing has unary calls only" % (full, m.name))
            level = m.options.idempotency_level if m.options.HasField("idempotency_level") else 0
            yield m, "/%s/%s" % (full, m.name), lower_camel(m.name), IDEMPOTENCY[level]

    def wire_file(self):
        out = list(HEADER)
        packages = sorted({f.package for f, _, _ in self.services})
        if len(packages) != 1:
            raise SystemExit("services of one package expected, found %s" % packages)
        out += ["", "extension %s {" % NAMESPACE,
                "    /// The proto package of every service here.",
                '    public static let package = "%s"' % packages[0],
                "    /// Every method of every service, service by service in proto file order.",
                "    public static let allMethods: [RPCMethod] ="]
        out += ["        %s%s.methods" % ("" if i == 0 else "+ ", s.name) for i, (_, s, _) in enumerate(self.services)]
        out += ["}"]
        for f, s, full in self.services:
            methods = list(self.methods(s, full))
            out += ["", "// MARK: - %s" % full, "", "extension %s {" % NAMESPACE,
                    "    /// `%s` (%s): its ``Method`` descriptors; ``%sHandler`` is what a server implements." % (full, f.name, s.name),
                    "    public enum %s {" % s.name,
                    '        public static let name = "%s"' % full,
                    "        /// Its methods, in proto order.",
                    "        public static let methods: [RPCMethod] = ["]
            out += ["            Method.%s.rpc," % n for _, _, n, _ in methods]
            out += ["        ]",
                    "",
                    "        public enum Method {"]
            for m, path, name, level in methods:
                req, resp = self.type_name(m.input_type), self.type_name(m.output_type)
                out += ["            /// `%s`: %s -> %s." % (m.name, req, resp),
                        "            public static let %s = MethodDescriptor<%s, %s>(" % (name, req, resp),
                        '                service: name, method: "%s", path: "%s", idempotency: .%s)' % (m.name, path, level)]
            out += ["        }", "",
                    "        /// Registers every method of `handler` with `router`.",
                    "        @inlinable",
                    "        public static func register(_ handler: some %sHandler, in router: inout RPCRouter) {" % s.name]
            for m, path, name, _ in methods:
                if path[1:] in NON_BLOCKING:
                    out += ["            router.registerNonBlocking(Method.%s) { request, call in try handler.%s(request, call: call) }" % (name, name)]
                else:
                    out += ["            router.register(Method.%s) { request, call in try await handler.%s(request, call: call) }" % (name, name)]
            out += ["        }", "    }", "",
                    "    /// The server side of `%s`: one requirement per method, routed by ``%s/register(_:in:)``." % (full, s.name)]
            if any(p[1:] in NON_BLOCKING for _, p, _, _ in methods):
                out += ["    /// Synchronous requirements run inline on the event loop: they must never block."]
            out += ["    public protocol %sHandler: Sendable {" % s.name]
            for m, path, name, _ in methods:
                req, resp = self.type_name(m.input_type), self.type_name(m.output_type)
                effect = "throws" if path[1:] in NON_BLOCKING else "async throws"
                out += ["        func %s(_ request: %s, call: ServerCall) %s -> %s" % (name, req, effect, resp)]
            out += ["    }", "}"]
        return "\n".join(out) + "\n"

    def client_file(self):
        out = list(HEADER)
        out += ["", "public import APIKeysWire", "",
                "/// A method per RPC, each through ``APIKeysClient/invoke(_:_:options:)``.",
                "extension APIKeysClient {"]
        first = True
        for f, s, full in self.services:
            if full in CLIENT_SKIPPED_SERVICES:
                continue
            if not first:
                out += [""]
            first = False
            out += ["    // MARK: - %s" % full]
            for m, path, name, _ in self.methods(s, full):
                req, resp = self.type_name(m.input_type), self.type_name(m.output_type)
                client_name = CLIENT_NAMES.get(path[1:], name)
                request_message = self.g.messages[m.input_type][0]
                # Requests with nothing to say, and listings (whose fields only filter), may be left out.
                default = " = %s.%s()" % (NAMESPACE, req) if not request_message.field or m.name.startswith("List") else ""
                out += ["",
                        "    /// `%s`." % path,
                        "    public func %s(_ request: %s.%s%s, options: CallOptions = CallOptions()) async throws -> %s.%s {" % (
                            client_name, NAMESPACE, req, default, NAMESPACE, resp),
                        "        try await invoke(%s.%s.Method.%s, request, options: options)" % (NAMESPACE, s.name, name),
                        "    }"]
        out += ["}"]
        return "\n".join(out) + "\n"


def main():
    if len(sys.argv) != 4:
        raise SystemExit("usage: generate_swift_messages.py DESCRIPTORS WIRE_DIR CLIENT_DIR")
    fds = d.FileDescriptorSet()
    with open(sys.argv[1], "rb") as fh:
        fds.ParseFromString(fh.read())
    files = sorted(fds.file, key=lambda f: f.name)
    g = Generator(files)
    for line in HEADER:
        g.emit(line)
    g.emit()
    g.emit("/// The types of proto/apikeys/v1 (package `apikeys.v1`), e.g. `APIKeysV1.VerifyRequest`,")
    g.emit("/// and its services' descriptors (Services.swift).")
    g.emit("public enum %s {}" % NAMESPACE)
    for f in files:
        g.emit()
        g.emit("// MARK: - %s" % f.name)
        g.emit()
        g.emit("extension %s {" % NAMESPACE)
        first = True
        for e in f.enum_type:
            if e.name in SKIPPED_ENUMS:
                continue
            if not first:
                g.emit()
            first = False
            g.gen_enum(e, e.name, "    ")
        for m in f.message_type:
            if f.name.endswith("frame.proto") and m.name in SKIPPED:
                continue
            if not first:
                g.emit()
            first = False
            g.gen_message(m, "." + f.package + "." + m.name, "    ")
        g.emit("}")
    with open(os.path.join(sys.argv[2], "Messages.swift"), "w") as fh:
        fh.write("\n".join(g.out) + "\n")
    services = Services(files, g)
    with open(os.path.join(sys.argv[2], "Services.swift"), "w") as fh:
        fh.write(services.wire_file())
    with open(os.path.join(sys.argv[3], "APIKeysClient+Methods.swift"), "w") as fh:
        fh.write(services.client_file())


if __name__ == "__main__":
    main()
