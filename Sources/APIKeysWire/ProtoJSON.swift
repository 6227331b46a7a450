internal import CAPIKeysCodec

/// Converts between protobuf's canonical JSON mapping and the bytes of any message type of
/// `ProtoSchema`, by walking its descriptors: what `apikeys call` sends and prints.
///
/// Reading accepts JSON names (`keyIds`) and .proto names (`key_ids`); 64-bit integers as
/// numbers or strings; enums by name or number; bytes as base64; `null` for "not set".
/// Writing uses JSON names, 64-bit integers as strings, enums by name, and leaves out
/// fields that hold their default value (unless `emitDefaults`).
///
/// ```swift
/// let type = ProtoSchema.messageType(named: "apikeys.v1.GenerateKeyRequest")!
/// let bytes = try ProtoJSON.encode(JSONValue.parse(Array(#"{"name": "ci"}"#.utf8)), as: type)
/// ```
public enum ProtoJSON {
    /// The protobuf bytes of `json`, an object of `type`'s fields (or `null`: an empty message).
    public static func encode(_ json: JSONValue, as type: ProtoMessageType) throws(ProtoJSONError) -> [UInt8] {
        guard let message = akc_message_new(type.pointer) else {
            throw ProtoJSONError(path: "", message: "out of memory building \(type.name)")
        }
        defer { akc_message_free(message) }
        try fill(message, type, from: json, path: "")
        let size = akc_message_encoded_size(message)
        return [UInt8](unsafeUninitializedCapacity: size) { buffer, count in
            count = akc_message_encode(message, buffer.baseAddress)
        }
    }

    private static func fill(_ message: OpaquePointer, _ type: ProtoMessageType, from json: JSONValue,
                             path: String) throws(ProtoJSONError) {
        if json == .null { return }
        guard case .object(let members) = json else {
            throw ProtoJSONError(path: path, message: "expected an object (\(type.name)), found \(json.kind)")
        }
        let fields = type.fields
        var seen: [UInt32: String] = [:]
        var oneofs: [UInt32: String] = [:]
        for member in members {
            let fieldPath = path.isEmpty ? member.key : path + "." + member.key
            guard let field = fields.first(where: { $0.jsonName == member.key }) ?? fields.first(where: { $0.name == member.key }) else {
                throw unknownField(member.key, in: type, fields: fields, path: path)
            }
            if let earlier = seen.updateValue(member.key, forKey: field.number) {
                throw ProtoJSONError(path: fieldPath, message: "field \(field.jsonName) is given twice (as \(earlier) and \(member.key))")
            }
            if member.value == .null { continue }
            if field.oneof != 0, let other = oneofs.updateValue(member.key, forKey: field.oneof) {
                throw ProtoJSONError(path: fieldPath, message: "\(other) and \(member.key) are members of one oneof of \(type.name): set one of them")
            }
            if field.isMap {
                try fillMap(message, field, from: member.value, path: fieldPath)
            } else if field.isRepeated {
                guard case .array(let elements) = member.value else {
                    throw ProtoJSONError(path: fieldPath, message: "expected an array (repeated \(typeName(field))), found \(member.value.kind)")
                }
                for (index, element) in elements.enumerated() {
                    try set(message, field, element, path: "\(fieldPath)[\(index)]", append: true)
                }
            } else {
                try set(message, field, member.value, path: fieldPath, append: false)
            }
        }
    }

    /// A `map<K, V>` is a JSON object; its keys, whatever K, are strings.
    private static func fillMap(_ message: OpaquePointer, _ field: ProtoField, from json: JSONValue,
                                path: String) throws(ProtoJSONError) {
        guard case .object(let members) = json, let entryType = field.messageType else {
            throw ProtoJSONError(path: path, message: "expected an object (a map), found \(json.kind)")
        }
        let entryFields = entryType.fields
        for member in members {
            guard let entry = akc_add_message(nil, message, field.number) else {
                throw ProtoJSONError(path: path, message: "out of memory")
            }
            let entryPath = path + "[" + JSONValue.quoted(member.key) + "]"
            try set(entry, entryFields[0], .string(member.key), path: entryPath, append: false, mapKey: true)
            try set(entry, entryFields[1], member.value, path: entryPath, append: false)
        }
    }

    /// Sets a singular field, or with `append` adds an element to a repeated one.
    private static func set(_ message: OpaquePointer, _ field: ProtoField, _ json: JSONValue, path: String,
                            append: Bool, mapKey: Bool = false) throws(ProtoJSONError) {
        let number = field.number
        func check(_ status: akc_status) throws(ProtoJSONError) {
            guard status == AKC_OK else {
                throw ProtoJSONError(path: path, message: status == AKC_NO_MEMORY ? "out of memory" : "cannot set this field (status \(status.rawValue))")
            }
        }
        func wrong(_ expected: String) -> ProtoJSONError {
            ProtoJSONError(path: path, message: "expected \(expected) (\(typeName(field))), found \(json.kind)")
        }
        if json == .null, append {
            throw ProtoJSONError(path: path, message: "null is not a value of repeated \(typeName(field))")
        }
        switch field.type {
        case .int32, .sint32, .sfixed32, .int64, .sint64, .sfixed64:
            let is32 = ([.int32, .sint32, .sfixed32] as [ProtoFieldType]).contains(field.type)
            let value = try signed(json, min: is32 ? Int64(Int32.min) : .min, max: is32 ? Int64(Int32.max) : .max,
                                   field: field, path: path)
            try check(append ? akc_add_int(nil, message, number, value) : akc_set_int(nil, message, number, value))
        case .uint32, .fixed32, .uint64, .fixed64:
            let is32 = field.type == .uint32 || field.type == .fixed32
            let value = try unsigned(json, max: is32 ? UInt64(UInt32.max) : .max, field: field, path: path)
            try check(append ? akc_add_uint(nil, message, number, value) : akc_set_uint(nil, message, number, value))
        case .bool:
            let value: Bool
            switch json {
            case .bool(let flag): value = flag
            // Map keys are strings in JSON, whatever their type.
            case .string("true") where mapKey: value = true
            case .string("false") where mapKey: value = false
            default: throw wrong("true or false")
            }
            try check(append ? akc_add_uint(nil, message, number, value ? 1 : 0) : akc_set_uint(nil, message, number, value ? 1 : 0))
        case .enum:
            let value = try enumNumber(json, field: field, path: path)
            try check(append ? akc_add_int(nil, message, number, Int64(value)) : akc_set_int(nil, message, number, Int64(value)))
        case .string:
            guard case .string(let text) = json else { throw wrong("a string") }
            var utf8 = Array(text.utf8)
            if utf8.contains(0) {
                throw ProtoJSONError(path: path, message: "a string cannot hold a NUL character (\\u0000)")
            }
            utf8.append(0)  // protobuf-c measures strings with strlen
            let status = utf8.withUnsafeBufferPointer { buffer in
                append ? akc_add_bytes(nil, message, number, buffer.baseAddress, buffer.count - 1)
                    : akc_set_bytes(nil, message, number, buffer.baseAddress, buffer.count - 1)
            }
            try check(status)
        case .bytes:
            guard case .string(let text) = json else { throw wrong("a base64 string") }
            guard let bytes = Base64.decode(text) else {
                throw ProtoJSONError(path: path, message: "expected base64 (bytes), found a string that is not base64")
            }
            let status = bytes.withUnsafeBufferPointer { buffer in
                append ? akc_add_bytes(nil, message, number, buffer.baseAddress, buffer.count)
                    : akc_set_bytes(nil, message, number, buffer.baseAddress, buffer.count)
            }
            try check(status)
        case .message:
            guard let type = field.messageType else { throw wrong("an object") }
            guard case .object = json else { throw wrong("an object") }
            guard let sub = append ? akc_add_message(nil, message, number) : akc_set_message(nil, message, number) else {
                throw ProtoJSONError(path: path, message: "out of memory")
            }
            try fill(sub, type, from: json, path: path)
        case .float, .double:
            // No field of proto/ has these types, and the C codec does not write them.
            throw ProtoJSONError(path: path, message: "\(field.type.name) fields are not supported")
        }
    }

    /// A whole number, from a JSON number or a string holding one (how int64 is written).
    private static func integerText(_ json: JSONValue, field: ProtoField, path: String) throws(ProtoJSONError) -> String {
        switch json {
        case .number(let text): return text
        case .string(let text) where !text.isEmpty: return text
        default:
            throw ProtoJSONError(path: path, message: "expected a number or a string of digits (\(typeName(field))), found \(json.kind)")
        }
    }

    private static func signed(_ json: JSONValue, min: Int64, max: Int64, field: ProtoField,
                               path: String) throws(ProtoJSONError) -> Int64 {
        let text = try integerText(json, field: field, path: path)
        let value: Int64?
        if let exact = Int64(text) {
            value = exact
        } else if let wide = wholeDouble(text), wide >= -9.007199254740992e15, wide <= 9.007199254740992e15 {
            value = Int64(wide)
        } else {
            value = nil
        }
        guard let value, value >= min, value <= max else {
            throw outOfRange(text, field: field, path: path)
        }
        return value
    }

    private static func unsigned(_ json: JSONValue, max: UInt64, field: ProtoField,
                                 path: String) throws(ProtoJSONError) -> UInt64 {
        let text = try integerText(json, field: field, path: path)
        let value: UInt64?
        if let exact = UInt64(text) {
            value = exact
        } else if text == "-0" {
            value = 0
        } else if let wide = wholeDouble(text), wide >= 0, wide <= 9.007199254740992e15 {
            value = UInt64(wide)
        } else {
            value = nil
        }
        guard let value, value <= max else { throw outOfRange(text, field: field, path: path) }
        return value
    }

    /// `1e3` or `5.0`: a JSON number written with a fraction or exponent that is whole.
    private static func wholeDouble(_ text: String) -> Double? {
        guard text.contains(where: { $0 == "." || $0 == "e" || $0 == "E" }),
              let value = Double(text), value.isFinite, value == value.rounded() else { return nil }
        return value
    }

    private static func outOfRange(_ text: String, field: ProtoField, path: String) -> ProtoJSONError {
        ProtoJSONError(path: path, message: "\(JSONValue.quoted(text)) is not a whole number in the range of \(field.type.name)")
    }

    private static func enumNumber(_ json: JSONValue, field: ProtoField, path: String) throws(ProtoJSONError) -> Int32 {
        guard let enumType = field.enumType else {
            throw ProtoJSONError(path: path, message: "the enum of this field is unknown")
        }
        switch json {
        case .string(let name):
            if let number = enumType.number(of: name) { return number }
            let names = enumType.values.map(\.name)
            throw ProtoJSONError(path: path, message: "\(JSONValue.quoted(name)) is not a value of \(enumType.name)"
                                 + Suggestions.didYouMean(name, among: names) + "; its values: " + names.joined(separator: ", "))
        case .number:
            // Open enums (proto3) keep numbers they do not know.
            return Int32(try signed(json, min: Int64(Int32.min), max: Int64(Int32.max), field: field, path: path))
        default:
            throw ProtoJSONError(path: path, message: "expected a name or number of \(enumType.name), found \(json.kind)")
        }
    }

    private static func unknownField(_ key: String, in type: ProtoMessageType, fields: [ProtoField],
                                     path: String) -> ProtoJSONError {
        let names = fields.map(\.jsonName)
        let candidates = names + fields.map(\.name)
        let list = names.isEmpty ? "it has no fields" : "its fields: " + names.joined(separator: ", ")
        return ProtoJSONError(path: path, message: "\(type.name) has no field \(JSONValue.quoted(key))"
                              + Suggestions.didYouMean(key, among: candidates) + "; " + list)
    }

    /// `int64`, `apikeys.v1.KeyStatus`, `apikeys.v1.ApiKey`: what a person reading an error looks up.
    static func typeName(_ field: ProtoField) -> String {
        field.enumType?.name ?? field.messageType?.name ?? field.type.name
    }
}

/// Where in a JSON document a value cannot be converted, and why.
public struct ProtoJSONError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The field path, e.g. `key.expiresAtMs` or `keyIds[2]`; empty for the document itself.
    public var path: String
    public var message: String

    public var description: String { path.isEmpty ? message : "\(path): \(message)" }
}
