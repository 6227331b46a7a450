import APIKeysClient
import APIKeysWire
import ArgumentParser

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `apikeys call METHOD [JSON]`: any method of the proto, with a JSON body (protobuf's JSON
/// mapping), like grpcurl. Methods and fields come from protoc-c's descriptors at run time.
///
/// ```
/// apikeys call Keys/Generate '{"name": "ci"}'
/// apikeys call --describe Keys/List
/// ```
struct CallCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "call",
        abstract: "Call any method with a JSON request and print the JSON answer.",
        discussion: """
            The request and answer use protobuf's JSON mapping: lowerCamelCase field names (the .proto's snake_case names are accepted too), 64-bit integers as strings (numbers accepted), enums by name (numbers accepted), bytes as base64, null for "not set". Fields at their default value are left out of the answer unless --emit-defaults.

            With no JSON the request is empty; - reads it from stdin (stdin is never read otherwise). METHOD is Keys/Generate, Keys.Generate, apikeys.v1.Keys/Generate or /apikeys.v1.Keys/Generate; --list shows every method, --describe its fields.

            The credential sent is the one given: the nearest source wins (flag, environment, context), and at the same level a user's, then a service's, then the operator's. The exit status is the answer's, as for the other commands.
            """)

    @Argument(help: ArgumentHelp("The method, e.g. Keys/Generate.", valueName: "method"))
    var method: String?

    @Argument(help: ArgumentHelp("The request as JSON, or - to read it from stdin; none sends an empty request.", valueName: "json"))
    var body: String?

    @Flag(help: "List every service and method, with request and response types.")
    var list = false

    @Option(help: ArgumentHelp("Show the fields of a method's request and response, or of a message type.", valueName: "method-or-type"))
    var describe: String?

    @Option(name: .customLong("as"), help: ArgumentHelp("Which credential to send, when several are given.", valueName: "kind"))
    var credentialKind: CallCredential?

    @Flag(help: "Print fields that hold their default value (0, false, empty) too.")
    var emitDefaults = false

    @OptionGroup(title: "Global Options") var global: GlobalOptions

    /// More than this on stdin is surely not a request: no server takes frames this large.
    static let maxBodyBytes = 64 << 20

    func validate() throws {
        let modes = [list, describe != nil, method != nil].filter { $0 }.count
        guard modes == 1 else {
            throw ValidationError(modes == 0 ? "which method? e.g. apikeys call Keys/Get '{\"keyId\": \"...\"}', or apikeys call --list"
                                             : "give a method, --list or --describe, one of them")
        }
        if method != nil { _ = try global.credential(for: try kind()) }
    }

    func run() async throws {
        if list { return CallCatalog.list(json: global.json) }
        if let describe { return try CallCatalog.describe(describe, json: global.json) }
        let method = try Self.resolve(self.method ?? "")
        let request = try requestBytes(for: method)
        let kind = try kind()
        let reply: ResponseFrame
        do {
            reply = try await global.withClient(kind) { client in
                let limit = Int(try await client.serverSettings().maxFrameSize)
                // The frame adds the method, metadata and a few bytes of framing to the message.
                if limit > 0, request.count > limit - 1024 {
                    throw CLIFailure.usage("the request is \(request.count) bytes: over the server's frame limit of \(limit) bytes")
                }
                return try await client.call(method.path, message: request)
            }
        } catch var failure as CLIFailure where credentialKind == nil && ["PERMISSION_DENIED", "UNAUTHENTICATED"].contains(failure.code) {
            failure.message += otherCredentialsHint(sent: kind)
            throw failure
        }
        let answer: JSONValue
        do {
            answer = try ProtoJSON.decode(reply.message, as: method.output, emitDefaults: emitDefaults)
        } catch {
            throw CLIFailure(code: "INTERNAL", message: "the server's answer: \(error.description)", exitStatus: ExitStatus.failure)
        }
        Output.line(answer.rendered())
    }

    static func resolve(_ name: String) throws -> ProtoMethod {
        do {
            return try ProtoSchema.method(named: name)
        } catch {
            throw CLIFailure.usage(error.message)
        }
    }

    /// The request's protobuf bytes: from the JSON argument, stdin (`-`), or empty.
    func requestBytes(for method: ProtoMethod) throws -> [UInt8] {
        guard let body else { return [] }
        let text = body == "-" ? try Self.readStdin() : Array(body.utf8)
        // An empty stdin (`< /dev/null`) is an empty request, as no argument is.
        if body == "-", text.allSatisfy({ [0x20, 0x09, 0x0A, 0x0D].contains($0) }) { return [] }
        return try Self.encode(text, as: method.input)
    }

    /// JSON text to protobuf bytes, every failure a usage error that says where.
    static func encode(_ text: [UInt8], as type: ProtoMessageType) throws -> [UInt8] {
        let json: JSONValue
        do {
            json = try JSONValue.parse(text)
        } catch {
            throw CLIFailure.usage("the request: \(error.description)")
        }
        do {
            return try ProtoJSON.encode(json, as: type)
        } catch {
            throw CLIFailure.usage(error.path.isEmpty ? "the request: \(error.message)"
                                                      : "the request, at \(error.path): \(error.message)")
        }
    }

    private func kind() throws -> CredentialKind {
        try credentialKind?.kind ?? global.givenCredentialKind()
    }

    /// When another credential was given too, which `--as` would send it: the default may
    /// have picked the wrong one for this method.
    private func otherCredentialsHint(sent kind: CredentialKind) -> String {
        let sent = (try? global.credential(for: kind))?.metadata["authorization"]
        // The service credential alone and acting for a user are one secret: not another choice.
        let others = [CallCredential.operator, .service, .user].filter { other in
            guard other.kind != kind, let credential = try? global.credential(for: other.kind) else { return false }
            return credential.metadata["authorization"] != sent
        }
        guard !others.isEmpty else { return "" }
        let names: [CredentialKind: String] = [.none: "no credential", .operator: "the operator credential",
                                               .service: "the service credential", .user: "a user's credential"]
        return " (sent \(names[kind] ?? "a credential"); " + others.map { "--as \($0.rawValue)" }.joined(separator: " or ")
            + " sends another)"
    }

    /// All of stdin, up to `maxBodyBytes`; a hint on stderr when a person must type it.
    static func readStdin() throws -> [UInt8] {
        if isatty(STDIN_FILENO) == 1 { Output.error("Reading the request from stdin; end it with Ctrl-D.") }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(STDIN_FILENO, $0.baseAddress, $0.count) }
            if count == 0 { return bytes }
            if count < 0 {
                if errno == EINTR { continue }
                throw CLIFailure.usage("cannot read the request from stdin: \(String(cString: strerror(errno)))")
            }
            bytes += chunk[..<count]
            if bytes.count > maxBodyBytes {
                throw CLIFailure.usage("the request on stdin is over \(maxBodyBytes >> 20) MiB")
            }
        }
    }
}

/// `--as`: which of the given credentials to send.
enum CallCredential: String, ExpressibleByArgument, CaseIterable {
    case `operator`, service, user, none

    var kind: CredentialKind {
        switch self {
        case .operator: .operator
        case .service: .service
        case .user: .user
        case .none: .none
        }
    }
}
