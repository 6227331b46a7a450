import APIKeysDomain
import APIKeysWire
import Logging
import NIOPosix
import Synchronization

/// The API's handlers (one extension per service, `APIRoutes+Service.swift`): resolve the
/// caller (X13), then run the domain operation off the event loop; the operation checks its
/// own requirement (`AccessPolicy`). Verify is the exception, answered on the event loop (X8).
struct APIRoutes: Sendable {
    let service: APIKeyService
    let pool: NIOThreadPool
    /// Client certificate URI to service (`ServerConfiguration.certificateServices`).
    let certificateServices: CertificateServices
    /// Where an INTERNAL answer's cause goes, under its error ID (the client sees only the ID).
    let logger: Logger
    let metrics: ServerMetrics?
    /// Verify's refusals, recorded off the event loop.
    let refusals = RefusalRecorder()
    /// Verify's service callers by credential.
    let serviceCallers = ServiceCallerCache()

    /// The services whose every method is a domain ``Operation`` (``MethodTable``).
    static let services: [[RPCMethod]] = [
        APIKeysV1.Directory.methods, APIKeysV1.Settings.methods, APIKeysV1.Keys.methods,
        APIKeysV1.Events.methods, APIKeysV1.Verification.methods,
    ]

    func register(in router: inout RPCRouter) {
        for method in Self.services.joined() {
            _ = MethodTable.operation(for: method)
        }
        APIKeysV1.Directory.register(self, in: &router)
        APIKeysV1.Settings.register(self, in: &router)
        APIKeysV1.Keys.register(self, in: &router)
        APIKeysV1.Events.register(self, in: &router)
        APIKeysV1.Verification.register(self, in: &router)
    }

    /// A method whose domain work may block on the store: runs on the thread pool.
    func run<Request, Response>(
        _ method: MethodDescriptor<Request, Response>, _ call: ServerCall,
        _ body: @escaping @Sendable (Caller) throws(DomainError) -> Response
    ) async throws -> Response {
        let service = self.service
        let certificateServices = self.certificateServices
        let logger = self.logger
        return try await pool.runIfActive {
            do throws(DomainError) {
                let caller = try Self.caller(of: call, service: service, certificateServices: certificateServices)
                call.annotations?.record(caller)
                return try body(caller)
            } catch {
                call.annotations?.record(error)
                throw Self.answer(error, method: method.path, logger: logger)
            }
        }
    }

    /// The status a refusal or failure is answered with. An INTERNAL error's cause (e.g.
    /// SQLite's text) is logged here with its error ID and never sent: the client's message
    /// is generic and carries only the ID.
    static func answer(_ error: DomainError, method: String, logger: Logger) -> RPCError {
        if error.code == .internal {
            logger.error("internal error", metadata: [
                "error_id": "\(error.errorID ?? "-")", "method": "\(method)", "cause": "\(error.cause ?? "-")",
            ])
        }
        return RPCError(error)
    }

    /// The caller from the metadata and, under mutual TLS, the service the connection's
    /// client certificate maps to by its URI.
    static func caller(of call: ServerCall, service: APIKeyService,
                       certificateServices: CertificateServices) throws(DomainError) -> Caller {
        let certificateService = certificateServices.service(for: call.peerCertificateURIs)
        return try service.resolveCaller(
            authorization: call.metadata["authorization"],
            tenantID: call.metadata["x-tenant-id"],
            userID: call.metadata["x-user-id"],
            certificateService: certificateService)
    }
}

/// Remembers which `authorization` values opened a plain service caller, so the hot path
/// does not parse and hash the same service credential on every call. Entries are dropped
/// whenever a credential changes, so a revoked credential (X18) stops working at once.
final class ServiceCallerCache: Sendable {
    /// Keyed by bytes (X15): `String` keys would match a canonically equivalent spelling.
    /// `last` is the entry found or added most recently: most connections carry one service's
    /// credential, and comparing ~90 bytes is far cheaper than hashing them for the dictionary.
    private let known = Mutex<Known>(Known())
    private static let capacity = 64

    private struct Known {
        var version = -1
        var callers: [ExactString: Caller] = [:]
        var last: (authorization: ExactString, caller: Caller)?

        mutating func reset(_ version: Int) { self = Known(version: version) }

        mutating func lookUp(_ authorization: ExactString) -> Caller? {
            if let last, last.authorization == authorization { return last.caller }
            guard let caller = callers[authorization] else { return nil }
            last = (authorization, caller)
            return caller
        }
    }

    func caller(of call: ServerCall, service: APIKeyService, resolve: () throws(DomainError) -> Caller) throws(DomainError) -> Caller {
        // One pass comparing keys: a service's metadata holds one or two entries, and three
        // dictionary lookups hashed a key each (~350 instructions apiece, on every Verify).
        var authorization: String?
        var hasIdentity = false
        for (name, value) in call.metadata {
            switch name {
            case "authorization": authorization = value
            case "x-tenant-id", "x-user-id": hasIdentity = true
            default: break
            }
        }
        guard let authorization, !hasIdentity else { return try resolve() }
        // X18: any credential change (a revocation) empties the cache before the next lookup.
        let version = service.credentialsVersion
        let key = ExactString(authorization)
        if let caller = known.withLock({ $0.version == version ? $0.lookUp(key) : nil }) { return caller }
        let caller = try resolve()
        if case .service = caller {
            known.withLock { known in
                if known.version != version || known.callers.count >= Self.capacity { known.reset(version) }
                known.callers[key] = caller
                known.last = (key, caller)
            }
        }
        return caller
    }
}

/// Records refusals off the event loop, at most a few at a time: a flood of refused calls
/// must not queue unbounded store writes (the refusal itself is always answered).
final class RefusalRecorder: Sendable {
    private let inFlight = Atomic<Int>(0)
    private static let limit = 16

    func record(on pool: NIOThreadPool, _ body: @escaping @Sendable () -> Void) {
        guard inFlight.add(1, ordering: .relaxed).newValue <= Self.limit else {
            inFlight.subtract(1, ordering: .relaxed)
            return
        }
        pool.submit { [self] _ in
            body()
            inFlight.subtract(1, ordering: .relaxed)
        }
    }
}

/// Client certificates to services by the exact URI of a subject alternative name.
struct CertificateServices: Sendable {
    let entries: [ServerConfiguration.CertificateService]

    /// The service a certificate with these URIs is, or nil when none is configured; also nil
    /// when its URIs name two different services, rather than pick one.
    func service(for uris: [String]) -> ServiceIdentity? {
        guard !entries.isEmpty else { return nil }
        // X15: byte for byte, never Swift's canonical equivalence.
        let found = entries.filter { entry in uris.contains { $0.utf8.elementsEqual(entry.uri.utf8) } }
        guard let first = found.first, found.allSatisfy({ $0 == first }) else { return nil }
        return first.identity
    }
}

extension CallAnnotations {
    /// Who called, for the access log: kinds, names and IDs, never a credential.
    func record(_ caller: Caller) {
        update { fields in
            switch caller {
            case .operatorCredential:
                fields.callerKind = "operator"
            case .service(let identity):
                fields.callerKind = identity.credentialID.hasPrefix("certificate:") ? "certificate" : "service"
                fields.service = identity.name
            case .member(let member):
                fields.tenant = member.tenantID
                fields.user = member.userID
                switch member.via {
                case .apiKey(let keyID):
                    fields.callerKind = "api_key"
                    fields.keyID = keyID
                case .service(let identity):
                    fields.callerKind = "service_for_user"
                    fields.service = identity.name
                }
            }
        }
    }

    /// An INTERNAL's error ID goes on the access line too, to find its cause's line.
    func record(_ error: DomainError) {
        guard error.code == .internal else { return }
        update { $0.errorID = error.errorID }
    }
}
