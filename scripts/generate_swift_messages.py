#!/usr/bin/env python3
"""Writes Swift structs for the messages of proto/ over the C codec's field API.

Input: a FileDescriptorSet (protoc --descriptor_set_out). Output: one Swift file.
The frame envelope (frame.proto) is handled by the C frame API, so of that file only
ErrorDetails is generated. A oneof with one member becomes an optional property;
with several, an enum.
"""
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


def main():
    fds = d.FileDescriptorSet()
    with open(sys.argv[1], "rb") as fh:
        fds.ParseFromString(fh.read())
    files = sorted(fds.file, key=lambda f: f.name)
    g = Generator(files)
    g.emit("// Generated by scripts/generate_swift_messages.py from proto/. Do not edit;")
    g.emit("// run `make proto`.")
    for f in files:
        g.emit()
        g.emit("// MARK: - %s" % f.name)
        for e in f.enum_type:
            if e.name in SKIPPED_ENUMS:
                continue
            g.emit()
            g.gen_enum(e, e.name, "")
        for m in f.message_type:
            if f.name.endswith("frame.proto") and m.name in SKIPPED:
                continue
            g.emit()
            g.gen_message(m, "." + f.package + "." + m.name, "")
    with open(sys.argv[2], "w") as fh:
        fh.write("\n".join(g.out) + "\n")


if __name__ == "__main__":
    main()
