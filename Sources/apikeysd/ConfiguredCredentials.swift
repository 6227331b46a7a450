import APIKeysDomain
import APIKeysServer
import ArgumentParser
import Foundation

/// Credentials from files and the environment, never from argv (X18, finding 6).
///
/// `--service-credentials-file`, one credential a line, fields separated by spaces or tabs:
///
/// ```
/// # NAME     SCOPE[:TENANT,...]   SECRET (32 or more characters)
/// verifier   verify               9f0c...
/// console    act                  3b7e...
/// billing    act:acme,globex      c41d...
/// ```
///
/// Blank lines and lines starting with `#` are ignored. `--operator-credential-file` holds
/// one secret on its one non-comment line. `APIKEYS_SERVICE_CREDENTIALS` is
/// `NAME=SECRET,...` (scope act in every tenant, as before scopes existed) or
/// `NAME:SCOPE=SECRET`; `APIKEYS_OPERATOR_CREDENTIAL` is one secret.
/// Errors name the file and line, never a secret.
struct ConfiguredCredentials {
    var services: [ServerConfiguration.ServiceCredential] = []
    var `operator`: String?
    /// E.g. a credentials file that others may read.
    var warnings: [String] = []

    static func load(serviceFile: String?, operatorFile: String?,
                     environment: [String: String] = ProcessInfo.processInfo.environment) throws -> ConfiguredCredentials {
        var loaded = ConfiguredCredentials()
        if let serviceFile {
            let lines = try read(serviceFile, into: &loaded.warnings)
            for (number, line) in lines {
                loaded.services.append(try serviceLine(line, at: "\(serviceFile):\(number)"))
            }
        }
        if let entries = environment["APIKEYS_SERVICE_CREDENTIALS"], !entries.isEmpty {
            for (index, entry) in entries.split(separator: ",").enumerated() {
                loaded.services.append(try environmentEntry(String(entry), at: "APIKEYS_SERVICE_CREDENTIALS entry \(index + 1)"))
            }
        }
        var names = Set<String>()
        for service in loaded.services where !names.insert(service.name).inserted {
            throw ValidationError("service credential \(service.name) is configured twice")
        }
        if let operatorFile {
            let lines = try read(operatorFile, into: &loaded.warnings)
            guard lines.count == 1 else {
                throw ValidationError("\(operatorFile): expected one operator credential on one line, found \(lines.count) lines")
            }
            loaded.operator = lines[0].text
        }
        if let secret = environment["APIKEYS_OPERATOR_CREDENTIAL"], !secret.isEmpty {
            guard loaded.operator == nil else {
                throw ValidationError("give the operator credential once: --operator-credential-file or APIKEYS_OPERATOR_CREDENTIAL")
            }
            loaded.operator = secret
        }
        if let secret = loaded.operator, secret.count < APIKeyService.minimumConfiguredSecretLength {
            throw ValidationError("the configured operator credential must have at least \(APIKeyService.minimumConfiguredSecretLength) characters")
        }
        return loaded
    }

    /// `URI=NAME:SCOPE[:TENANT,...]`: split at the last `=`, since a URI may hold one.
    static func certificateService(_ entry: String) throws -> ServerConfiguration.CertificateService {
        let usage = "--tls-client-service must be URI=NAME:SCOPE[:TENANT,...], e.g. spiffe://example.org/gateway=gateway:act"
        guard let equals = entry.lastIndex(of: "=") else { throw ValidationError(usage) }
        let uri = String(entry[..<equals])
        let fields = entry[entry.index(after: equals)...].split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
        guard fields.count >= 2 else { throw ValidationError(usage) }
        // A URI has a scheme (RFC 3986): a bare name such as "gateway" would look like the
        // Common Name mapping this option no longer has.
        guard let colon = uri.firstIndex(of: ":"), uri[..<colon].first?.isLetter == true,
              uri[..<colon].allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "+-.".contains($0)) }),
              uri.index(after: colon) < uri.endIndex, !uri.contains(where: { $0.isWhitespace }) else {
            throw ValidationError("--tls-client-service: \(uri.debugDescription) is not a URI with a scheme (e.g. spiffe://example.org/gateway)")
        }
        let (scope, tenants) = try parseScope(String(fields[1]), tenants: fields.count == 3 ? String(fields[2]) : nil, at: "--tls-client-service")
        let name = String(fields[0])
        try check(name: name, scope: scope, tenants: tenants, at: "--tls-client-service")
        return ServerConfiguration.CertificateService(uri: uri, name: name, scope: scope, tenants: tenants)
    }

    /// The non-comment lines of a credentials file, with their numbers.
    private static func read(_ path: String, into warnings: inout [String]) throws -> [(number: Int, text: String)] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ValidationError("cannot read \(path)")
        }
        if let mode = (try? FileManager.default.attributesOfItem(atPath: path))?[.posixPermissions] as? Int, mode & 0o077 != 0 {
            warnings.append("\(path) holds secrets and may be read by other users (mode \(String(mode, radix: 8))): chmod 600 it")
        }
        var lines: [(number: Int, text: String)] = []
        for (index, line) in String(decoding: data, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let text = line.trimmingCharacters(in: .whitespacesAndNewlines)
            if text.isEmpty || text.hasPrefix("#") { continue }
            lines.append((index + 1, text))
        }
        return lines
    }

    private static func serviceLine(_ line: String, at place: String) throws -> ServerConfiguration.ServiceCredential {
        let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
        guard fields.count == 3 else {
            throw ValidationError("\(place): expected NAME SCOPE[:TENANT,...] SECRET (3 fields), found \(fields.count)")
        }
        let scopeField = fields[1].split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
        let (scope, tenants) = try parseScope(String(scopeField[0]), tenants: scopeField.count == 2 ? String(scopeField[1]) : nil, at: place)
        let credential = ServerConfiguration.ServiceCredential(name: String(fields[0]), secret: String(fields[2]), scope: scope, tenants: tenants)
        try check(credential, at: place)
        return credential
    }

    private static func environmentEntry(_ entry: String, at place: String) throws -> ServerConfiguration.ServiceCredential {
        let parts = entry.split(separator: "=", maxSplits: 1)
        guard parts.count == 2 else { throw ValidationError("\(place): expected NAME=SECRET or NAME:SCOPE=SECRET") }
        let head = parts[0].split(separator: ":", maxSplits: 1)
        // Scope act in every tenant when not stated: what these credentials did before X18.
        var scope = Credential.Scope.act
        if head.count == 2 { scope = try parseScope(String(head[1]), tenants: nil, at: place).0 }
        let credential = ServerConfiguration.ServiceCredential(name: String(head[0]), secret: String(parts[1]), scope: scope)
        try check(credential, at: place)
        return credential
    }

    private static func parseScope(_ text: String, tenants: String?, at place: String) throws -> (Credential.Scope, [String]) {
        guard let scope = Credential.Scope(rawValue: text) else {
            throw ValidationError("\(place): the scope must be verify or act, not \(text.debugDescription)")
        }
        let list = tenants.map { $0.split(separator: ",").map(String.init) } ?? []
        if tenants != nil, list.isEmpty { throw ValidationError("\(place): act: must be followed by tenant IDs") }
        return (scope, list)
    }

    private static func check(_ credential: ServerConfiguration.ServiceCredential, at place: String) throws {
        guard credential.secret.count >= APIKeyService.minimumConfiguredSecretLength else {
            throw ValidationError("\(place): the secret of \(credential.name) must have at least \(APIKeyService.minimumConfiguredSecretLength) characters")
        }
        try check(name: credential.name, scope: credential.scope, tenants: credential.tenants, at: place)
    }

    private static func check(name: String, scope: Credential.Scope, tenants: [String], at place: String) throws {
        if scope == .verify, !tenants.isEmpty {
            throw ValidationError("\(place): tenants limit scope act; a verify credential acts in no tenant")
        }
        do {
            try Validation.serviceName(name)
            for tenant in tenants { try Validation.tenantID(tenant) }
        } catch let error as DomainError {
            throw ValidationError("\(place): \(error.message)")
        }
    }
}
