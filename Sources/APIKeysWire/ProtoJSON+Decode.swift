internal import CAPIKeysCodec

extension ProtoJSON {
    /// The JSON of a message of `type` given as protobuf bytes: JSON names, 64-bit integers
    /// as strings, enums by name, bytes as base64. Fields holding their default value are
    /// left out unless `emitDefaults` (members of a oneof that are set are always written).
    public static func decode(_ bytes: [UInt8], as type: ProtoMessageType,
                              emitDefaults: Bool = false) throws(ProtoJSONError) -> JSONValue {
        let budget = allocationBudgetFloor + allocationBudgetFactor * bytes.count
        var view = akc_message_view()
        let status = bytes.withUnsafeBufferPointer { buffer in
            akc_message_view_decode(type.pointer, buffer.baseAddress, buffer.count, budget, &view)
        }
        guard status == AKC_OK, let decoded = view.message else {
            let reason = switch status {
            case AKC_OVER_BUDGET: "would need more memory to decode than its size allows"
            case AKC_BAD_STRING: "has a string that is not valid UTF-8 or holds a NUL byte"
            default: "is not valid protobuf"
            }
            throw ProtoJSONError(path: "", message: "the \(type.name) \(reason)")
        }
        defer { akc_message_view_release(&view) }
        return object(decoded, type, emitDefaults: emitDefaults)
    }

    private static func object(_ message: OpaquePointer, _ type: ProtoMessageType, emitDefaults: Bool) -> JSONValue {
        var members: [JSONMember] = []
        for field in type.fields {
            if field.isRepeated {
                let count = akc_count(message, field.number)
                guard count > 0 || emitDefaults else { continue }
                if field.isMap, let entryType = field.messageType {
                    let entryFields = entryType.fields
                    let entries: [JSONMember] = (0..<count).compactMap { index in
                        guard let entry = akc_get_message_at(message, field.number, index) else { return nil }
                        let key = value(entry, entryFields[0], at: nil, emitDefaults: emitDefaults)
                        var keyText = key.rendered()
                        if case .string(let text) = key { keyText = text }
                        return JSONMember(keyText, value(entry, entryFields[1], at: nil, emitDefaults: emitDefaults))
                    }
                    members.append(JSONMember(field.jsonName, .object(entries)))
                } else {
                    let elements = (0..<count).map { value(message, field, at: $0, emitDefaults: emitDefaults) }
                    members.append(JSONMember(field.jsonName, .array(elements)))
                }
            } else if field.type == .message {
                guard akc_get_message(message, field.number) != nil else { continue }
                members.append(JSONMember(field.jsonName, value(message, field, at: nil, emitDefaults: emitDefaults)))
            } else if field.oneof != 0 {
                guard akc_has(message, field.number) else { continue }
                members.append(JSONMember(field.jsonName, value(message, field, at: nil, emitDefaults: emitDefaults)))
            } else {
                guard emitDefaults || !isDefault(message, field) else { continue }
                members.append(JSONMember(field.jsonName, value(message, field, at: nil, emitDefaults: emitDefaults)))
            }
        }
        return .object(members)
    }

    /// A singular field's value, or element `index` of a repeated one.
    private static func value(_ message: OpaquePointer, _ field: ProtoField, at index: Int?,
                              emitDefaults: Bool) -> JSONValue {
        let number = field.number
        func int() -> Int64 { index.map { akc_get_int_at(message, number, $0) } ?? akc_get_int(message, number) }
        func uint() -> UInt64 { index.map { akc_get_uint_at(message, number, $0) } ?? akc_get_uint(message, number) }
        func bytes() -> akc_bytes { index.map { akc_get_bytes_at(message, number, $0) } ?? akc_get_bytes(message, number) }
        switch field.type {
        case .int32, .sint32, .sfixed32: return .number(String(int()))
        case .int64, .sint64, .sfixed64: return .string(String(int()))
        case .uint32, .fixed32: return .number(String(uint()))
        case .uint64, .fixed64: return .string(String(uint()))
        case .bool: return .bool(uint() != 0)
        case .enum:
            let number = Int32(truncatingIfNeeded: int())
            // A number this build does not know (a newer server) is written as the number.
            return field.enumType?.name(of: number).map(JSONValue.string) ?? .number(String(number))
        case .string:
            let slice = bytes()
            return .string(String(decoding: UnsafeBufferPointer(start: slice.data, count: slice.length), as: UTF8.self))
        case .bytes:
            let slice = bytes()
            return .string(Base64.encode(UnsafeBufferPointer(start: slice.data, count: slice.length)))
        case .message:
            let sub = index.map { akc_get_message_at(message, number, $0) } ?? akc_get_message(message, number)
            guard let sub, let type = field.messageType else { return .object([]) }
            return object(sub, type, emitDefaults: emitDefaults)
        case .float, .double:
            // The C codec does not read these; no field of proto/ has them.
            return .null
        }
    }

    /// Zero, false, empty: what proto3 does not tell apart from "not set".
    private static func isDefault(_ message: OpaquePointer, _ field: ProtoField) -> Bool {
        switch field.type {
        case .int32, .sint32, .sfixed32, .int64, .sint64, .sfixed64, .enum: akc_get_int(message, field.number) == 0
        case .uint32, .fixed32, .uint64, .fixed64, .bool: akc_get_uint(message, field.number) == 0
        case .string, .bytes: akc_get_bytes(message, field.number).length == 0
        case .float, .double, .message: false
        }
    }
}
