import APIKeysWire

/// `apikeys call --list` and `--describe`: the services, methods and message types of the
/// proto, from the descriptors the tool was built with.
enum CallCatalog {
    static func list(json: Bool) {
        if json {
            Output.line(JSONValue.object([JSONMember("services", .array(ProtoSchema.services.map { (service) -> JSONValue in
                .object([
                    JSONMember("name", .string(service.name)),
                    JSONMember("methods", .array(service.methods.map { (method) -> JSONValue in
                        .object([JSONMember("name", .string(method.name)), JSONMember("path", .string(method.path)),
                                 JSONMember("request", .string(method.input.name)),
                                 JSONMember("response", .string(method.output.name))])
                    })),
                ])
            }))]).rendered())
            return
        }
        var table = Table("METHOD", "REQUEST", "RESPONSE")
        for method in ProtoSchema.methods {
            table.append(shortForm(method), shortName(method.input.name), shortName(method.output.name))
        }
        Output.line(table.rendered())
        Output.line("\nCall one with apikeys call METHOD '{...}'; see its fields with apikeys call --describe METHOD.")
    }

    /// A method (its request, response and every type they use) or a message type.
    static func describe(_ name: String, json: Bool) throws {
        let method = try? ProtoSchema.method(named: name)
        let roots: [ProtoMessageType]
        if let method {
            roots = [method.input, method.output]
        } else {
            do {
                roots = [try ProtoSchema.messageType(matching: name)]
            } catch {
                // Neither: say so for the method, the likelier meaning, with its suggestions.
                throw CLIFailure.usage(Self.notFound(name, typeError: error.message))
            }
        }
        let (types, enums) = reachable(from: roots)
        if json {
            var members: [JSONMember] = []
            if let method {
                members += [JSONMember("method", .string(method.path)), JSONMember("request", .string(method.input.name)),
                            JSONMember("response", .string(method.output.name))]
            }
            members.append(JSONMember("messages", .array(types.map(messageJSON))))
            members.append(JSONMember("enums", .array(enums.map(enumJSON))))
            Output.line(JSONValue.object(members).rendered())
            return
        }
        var blocks: [String] = []
        if let method {
            blocks.append("\(method.path)\n  request:  \(method.input.name)\n  response: \(method.output.name)")
        }
        blocks += types.map(messageText) + enums.map(enumText)
        Output.line(blocks.joined(separator: "\n\n"))
    }

    private static func notFound(_ name: String, typeError: String) -> String {
        let methodError: String
        do {
            _ = try ProtoSchema.method(named: name)
            methodError = ""
        } catch {
            methodError = error.message
        }
        // "no method X (did you mean ...)" reads best; the type's suggestions only when it has some.
        return typeError.contains("did you mean") ? "\(methodError); \(typeError)" : methodError
    }

    /// The types and enums `roots` use, each once, in the order met; map entries are shown as maps.
    static func reachable(from roots: [ProtoMessageType]) -> (types: [ProtoMessageType], enums: [ProtoEnum]) {
        var types: [ProtoMessageType] = []
        var enums: [ProtoEnum] = []
        var queue = roots
        while !queue.isEmpty {
            let type = queue.removeFirst()
            guard !types.contains(type) else { continue }
            types.append(type)
            for field in type.fields {
                let used = field.isMap ? field.messageType!.fields : [field]
                for inner in used {
                    if let message = inner.messageType { queue.append(message) }
                    if let enumType = inner.enumType, !enums.contains(where: { $0.name == enumType.name }) {
                        enums.append(enumType)
                    }
                }
            }
        }
        return (types, enums)
    }

    /// `repeated string keyIds = 1;`, `map<string, string> details = 8;`.
    static func declaration(_ field: ProtoField) -> String {
        if field.isMap, let entry = field.messageType?.fields, entry.count == 2 {
            return "map<\(typeName(entry[0])), \(typeName(entry[1]))> \(field.jsonName) = \(field.number);"
        }
        return (field.isRepeated ? "repeated " : "") + "\(typeName(field)) \(field.jsonName) = \(field.number);"
    }

    /// Shown as a .proto message, with JSON names; the .proto name and oneof in a comment.
    static func messageText(_ type: ProtoMessageType) -> String {
        let fields = type.fields
        let declarations = fields.map { "  " + declaration($0) }
        let width = declarations.map(\.count).max() ?? 0
        var lines = ["message \(type.name) {"]
        for (field, text) in zip(fields, declarations) {
            var notes: [String] = []
            if field.name != field.jsonName { notes.append(field.name) }
            if field.oneof != 0 {
                let others = fields.filter { $0.oneof == field.oneof && $0.number != field.number }.map(\.jsonName)
                notes.append(others.isEmpty ? "optional" : "oneof with " + others.joined(separator: ", "))
            }
            if ([.int64, .uint64, .sint64, .fixed64, .sfixed64] as [ProtoFieldType]).contains(field.type) { notes.append("a string in JSON") }
            if field.type == .bytes { notes.append("base64 in JSON") }
            lines.append(notes.isEmpty ? text : text.padding(to: width) + "  // " + notes.joined(separator: "; "))
        }
        lines.append("}")
        return lines.joined(separator: "\n")
    }

    static func enumText(_ enumType: ProtoEnum) -> String {
        (["enum \(enumType.name) {"] + enumType.values.map { "  \($0.name) = \($0.number);" } + ["}"]).joined(separator: "\n")
    }

    private static func messageJSON(_ type: ProtoMessageType) -> JSONValue {
        .object([JSONMember("name", .string(type.name)), JSONMember("fields", .array(type.fields.map { (field) -> JSONValue in
            var members = [
                JSONMember("name", .string(field.name)), JSONMember("jsonName", .string(field.jsonName)),
                JSONMember("number", .number(String(field.number))),
                JSONMember("type", .string(field.isMap ? mapType(field) : typeName(field))),
                JSONMember("repeated", .bool(field.isRepeated && !field.isMap)),
                JSONMember("map", .bool(field.isMap)),
            ]
            if field.oneof != 0 {
                let group = type.fields.filter { $0.oneof == field.oneof }.map { JSONValue.string($0.jsonName) }
                members.append(JSONMember("oneof", .array(group)))
            }
            return .object(members)
        }))])
    }

    private static func enumJSON(_ enumType: ProtoEnum) -> JSONValue {
        .object([JSONMember("name", .string(enumType.name)), JSONMember("values", .array(enumType.values.map { value -> JSONValue in
            .object([JSONMember("name", .string(value.name)), JSONMember("number", .number(String(value.number)))])
        }))])
    }

    private static func mapType(_ field: ProtoField) -> String {
        guard let entry = field.messageType?.fields, entry.count == 2 else { return typeName(field) }
        return "map<\(typeName(entry[0])), \(typeName(entry[1]))>"
    }

    /// `int64`, or the full name of an enum or message.
    static func typeName(_ field: ProtoField) -> String {
        field.enumType?.name ?? field.messageType?.name ?? field.type.name
    }

    /// `Keys/Generate`: what people type.
    static func shortForm(_ method: ProtoMethod) -> String {
        "\(shortName(method.service))/\(method.name)"
    }

    /// The name without the `apikeys.v1.` every type of the proto shares.
    static func shortName(_ name: String) -> String {
        name.hasPrefix("apikeys.v1.") ? String(name.dropFirst("apikeys.v1.".count)) : name
    }
}
