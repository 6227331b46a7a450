internal import CAPIKeysCodec

/// The services, methods and message types of `proto/apikeys/v1`, read at run time from the
/// descriptors protoc-c generated, so a generic tool needs no method path or type written by hand.
///
/// ```swift
/// for service in ProtoSchema.services {
///     for method in service.methods { print(method.path, method.input.name, method.output.name) }
/// }
/// ```
public enum ProtoSchema {
    /// Every service, sorted by full name; methods in .proto order.
    public static let services: [ProtoService] = (0..<akc_service_count()).compactMap { index in
        akc_service_at(index).map(ProtoService.init)
    }.sorted { $0.name < $1.name }

    /// Every message type, nested ones (`apikeys.v1.Event.DetailsEntry`) included, sorted by full name.
    public static let messageTypes: [ProtoMessageType] = (0..<akc_type_count()).compactMap { index in
        akc_type_at(index).map(ProtoMessageType.init)
    }.sorted { $0.name < $1.name }

    /// Every method of every service.
    public static var methods: [ProtoMethod] { services.flatMap(\.methods) }

    /// The message type with this full name, e.g. `apikeys.v1.VerifyRequest`.
    public static func messageType(named name: String) -> ProtoMessageType? {
        akc_type_named(name).map(ProtoMessageType.init)
    }
}

/// A service, e.g. `apikeys.v1.Keys`.
public struct ProtoService: Sendable {
    /// The full name, e.g. `apikeys.v1.Keys`.
    public let name: String
    public let methods: [ProtoMethod]

    /// The name without its package, e.g. `Keys`.
    public var shortName: Substring { name.split(separator: ".").last ?? Substring(name) }

    init(_ service: OpaquePointer) {
        let name = String(cString: akc_service_name(service))
        self.name = name
        methods = (0..<akc_method_count(service)).compactMap { index in
            guard let method = akc_method_name(service, index),
                  let input = akc_method_input(service, index),
                  let output = akc_method_output(service, index) else { return nil }
            return ProtoMethod(service: name, name: String(cString: method),
                               input: ProtoMessageType(input), output: ProtoMessageType(output))
        }
    }
}

/// A method of a service, called by its `path`.
public struct ProtoMethod: Sendable {
    /// The service's full name, e.g. `apikeys.v1.Keys`.
    public let service: String
    /// E.g. `Generate`.
    public let name: String
    public let input: ProtoMessageType
    public let output: ProtoMessageType

    /// What a request frame names: `/apikeys.v1.Keys/Generate` (docs/PROTOCOL.md §5).
    public var path: String { "/\(service)/\(name)" }
}

/// A message type, described by its fields; values of it are protobuf bytes.
public struct ProtoMessageType: Sendable, Hashable, CustomStringConvertible {
    /// The descriptor's address: static C data, valid for the process.
    private let address: UInt

    init(_ type: OpaquePointer) {
        address = UInt(bitPattern: type)
    }

    var pointer: OpaquePointer { OpaquePointer(bitPattern: address)! }

    /// The full name, e.g. `apikeys.v1.ApiKey`.
    public var name: String { String(cString: akc_type_name(pointer)) }

    public var description: String { name }

    /// Fields in field-number order. Read from the descriptor each time: message types may
    /// refer to each other, so they cannot all be built up front.
    public var fields: [ProtoField] {
        (0..<akc_field_count(pointer)).compactMap { index in
            var field = akc_field()
            guard akc_field_at(pointer, index, &field) else { return nil }
            return ProtoField(field)
        }
    }

    /// A field by its JSON name (`expiresAtMs`) or its .proto name (`expires_at_ms`).
    public func field(named name: String) -> ProtoField? {
        let fields = fields
        return fields.first { $0.jsonName == name } ?? fields.first { $0.name == name }
    }

    /// A map's entry type: protoc generates `map<K, V>` as a repeated nested `…Entry` message
    /// with a key (1) and a value (2). protoc-c keeps no map flag, so its shape tells.
    var isMapEntry: Bool {
        let fields = fields
        return name.hasSuffix("Entry") && fields.count == 2
            && fields[0].name == "key" && fields[0].number == 1 && !fields[0].isRepeated
            && fields[1].name == "value" && fields[1].number == 2 && !fields[1].isRepeated
    }
}

/// A field of a message type.
public struct ProtoField: Sendable {
    /// As written in the .proto file, e.g. `expires_at_ms`.
    public let name: String
    /// protobuf's JSON name, e.g. `expiresAtMs`.
    public let jsonName: String
    public let number: UInt32
    public let type: ProtoFieldType
    public let isRepeated: Bool
    /// Nonzero and equal for the members of one oneof, which are present once set.
    public let oneof: UInt32
    /// For `.message` fields.
    public let messageType: ProtoMessageType?
    /// For `.enum` fields.
    public let enumType: ProtoEnum?

    init(_ field: akc_field) {
        name = String(cString: field.name)
        jsonName = Self.jsonName(name)
        number = field.number
        type = ProtoFieldType(rawValue: field.type.rawValue) ?? .bytes
        isRepeated = field.repeated
        oneof = field.oneof
        messageType = field.message_type.map(ProtoMessageType.init)
        enumType = field.enum_type.map(ProtoEnum.init)
    }

    /// A `map<K, V>` field: a repeated field of a map entry type.
    public var isMap: Bool { isRepeated && messageType?.isMapEntry == true }

    /// protoc's rule: drop each underscore and upper-case the letter after it.
    static func jsonName(_ name: String) -> String {
        var out = ""
        var upperNext = false
        for character in name {
            if character == "_" {
                upperNext = true
            } else if upperNext {
                out += character.uppercased()
                upperNext = false
            } else {
                out.append(character)
            }
        }
        return out
    }
}

/// A field's protobuf type.
public enum ProtoFieldType: UInt32, Sendable {
    case int32, sint32, sfixed32, int64, sint64, sfixed64, uint32, fixed32, uint64, fixed64
    case float, double, bool, `enum`, string, bytes, message

    /// As written in a .proto file (`int64`); enums and messages go by their type's name.
    public var name: String { "\(self)" }
}

/// An enum and its values.
public struct ProtoEnum: Sendable {
    /// The full name, e.g. `apikeys.v1.KeyStatus`.
    public let name: String
    /// In numeric order.
    public let values: [(name: String, number: Int32)]

    init(_ enumType: OpaquePointer) {
        name = String(cString: akc_enum_name(enumType))
        values = (0..<akc_enum_value_count(enumType)).compactMap { index in
            akc_enum_value_name(enumType, index).map { (String(cString: $0), akc_enum_value_number(enumType, index)) }
        }
    }

    public func name(of number: Int32) -> String? { values.first { $0.number == number }?.name }
    public func number(of name: String) -> Int32? { values.first { $0.name == name }?.number }
}
