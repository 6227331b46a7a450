import APIKeysDomain
import APIKeysWire
import Logging
import NIOPosix
import Synchronization

/// Registers every API method: resolve the caller (X13), then run the domain operation off
/// the event loop; the operation checks its own requirement (`AccessPolicy`).
struct APIRoutes {
    let service: APIKeyService
    let pool: NIOThreadPool
    /// Client certificate URI to service (`ServerConfiguration.certificateServices`).
    let certificateServices: CertificateServices
    /// Where an INTERNAL answer's cause goes, under its error ID (the client sees only the ID).
    let logger: Logger
    let metrics: ServerMetrics?

    func register(in router: inout RPCRouter) {
        registerDirectory(in: &router)
        registerSettings(in: &router)
        registerKeys(in: &router)
        registerEvents(in: &router)
        registerVerification(in: &router)
    }

    /// A method whose domain work may block on the store: runs on the thread pool.
    func route<Input: ProtoMessage, Output: ProtoMessage>(
        _ method: String, in router: inout RPCRouter,
        _ body: @escaping @Sendable (Input, Caller) throws(DomainError) -> Output
    ) {
        _ = MethodTable.operation(for: method)
        let service = self.service
        let certificateServices = self.certificateServices
        let logger = self.logger
        router.register(method) { (input: Input, call) in
            try await pool.runIfActive {
                do throws(DomainError) {
                    let caller = try Self.caller(of: call, service: service, certificateServices: certificateServices)
                    call.annotations?.record(caller)
                    return try body(input, caller)
                } catch {
                    call.annotations?.record(error)
                    throw Self.answer(error, method: method, logger: logger)
                }
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

    private func registerDirectory(in router: inout RPCRouter) {
        let service = self.service
        route("/apikeys.v1.Directory/CreateTenant", in: &router) { (r: CreateTenantRequest, caller) throws(DomainError) in
            CreateTenantResponse(tenant: .init(try service.createTenant(caller, id: r.tenantID, name: r.name)))
        }
        route("/apikeys.v1.Directory/CreateUser", in: &router) { (r: CreateUserRequest, caller) throws(DomainError) in
            let user = try service.createUser(
                caller, tenantID: r.tenantID, userID: r.userID, displayName: r.displayName,
                roles: Set(try r.roles.map(APIKeysDomain.Role.init)), licensed: r.licensed)
            return CreateUserResponse(user: .init(user))
        }
        route("/apikeys.v1.Directory/RemoveUser", in: &router) { (r: RemoveUserRequest, caller) throws(DomainError) in
            RemoveUserResponse(keysRevoked: UInt32(try service.removeUser(caller, tenantID: r.tenantID, userID: r.userID)))
        }
        route("/apikeys.v1.Directory/CreateServiceCredential", in: &router) { (r: CreateServiceCredentialRequest, caller) throws(DomainError) in
            let created = try service.createServiceCredential(caller, name: r.name, scope: .init(r.scope), tenants: r.tenants)
            return CreateServiceCredentialResponse(
                name: created.credential.name, secret: created.secret, credential: .init(created.credential))
        }
        route("/apikeys.v1.Directory/CreateOperatorCredential", in: &router) { (r: CreateOperatorCredentialRequest, caller) throws(DomainError) in
            let created = try service.createOperatorCredential(caller, name: r.name.isEmpty ? "operator" : r.name)
            return CreateOperatorCredentialResponse(secret: created.secret, credential: .init(created.credential))
        }
        route("/apikeys.v1.Directory/ListCredentials", in: &router) { (_: ListCredentialsRequest, caller) throws(DomainError) in
            ListCredentialsResponse(credentials: try service.listCredentials(caller).map(CredentialInfo.init))
        }
        route("/apikeys.v1.Directory/RotateCredential", in: &router) { (r: RotateCredentialRequest, caller) throws(DomainError) in
            let rotated = try service.rotateCredential(caller, id: r.credentialID)
            return RotateCredentialResponse(
                secret: rotated.issued.secret, credential: .init(rotated.issued.credential), replacesID: rotated.replaced.id)
        }
        route("/apikeys.v1.Directory/RevokeCredential", in: &router) { (r: RevokeCredentialRequest, caller) throws(DomainError) in
            RevokeCredentialResponse(credential: .init(try service.revokeCredential(caller, id: r.credentialID)))
        }
        route("/apikeys.v1.Directory/AssignRole", in: &router) { (r: AssignRoleRequest, caller) throws(DomainError) in
            UserResponse(user: .init(try service.assignRole(caller, userID: r.userID, role: try APIKeysDomain.Role(r.role))))
        }
        route("/apikeys.v1.Directory/RemoveRole", in: &router) { (r: RemoveRoleRequest, caller) throws(DomainError) in
            UserResponse(user: .init(try service.removeRole(caller, userID: r.userID, role: try APIKeysDomain.Role(r.role))))
        }
        route("/apikeys.v1.Directory/SetLicense", in: &router) { (r: SetLicenseRequest, caller) throws(DomainError) in
            UserResponse(user: .init(try service.setLicense(caller, userID: r.userID, licensed: r.licensed)))
        }
        route("/apikeys.v1.Directory/GetUser", in: &router) { (r: GetUserRequest, caller) throws(DomainError) in
            UserResponse(user: .init(try service.getUser(caller, userID: r.userID)))
        }
        route("/apikeys.v1.Directory/ListUsers", in: &router) { (_: ListUsersRequest, caller) throws(DomainError) in
            ListUsersResponse(users: try service.listUsers(caller).map(APIKeysWire.User.init))
        }
    }

    private func registerSettings(in router: inout RPCRouter) {
        let service = self.service
        route("/apikeys.v1.Settings/Get", in: &router) { (_: GetSettingsRequest, caller) throws(DomainError) in
            GetSettingsResponse(settings: .init(try service.getSettings(caller)))
        }
        route("/apikeys.v1.Settings/Update", in: &router) { (r: UpdateSettingsRequest, caller) throws(DomainError) in
            let update = SettingsUpdate(
                apiKeysEnabled: r.apiKeysEnabled, maxExpirySeconds: r.maxExpirySeconds,
                maxKeysPerUser: r.maxKeysPerUser, excessiveUsePerMinute: r.excessiveUsePerMinute)
            return UpdateSettingsResponse(settings: .init(try service.updateSettings(caller, update)))
        }
    }

    private func registerKeys(in router: inout RPCRouter) {
        let service = self.service
        route("/apikeys.v1.Keys/Generate", in: &router) { (r: GenerateKeyRequest, caller) throws(DomainError) in
            let expiry: Expiry
            switch r.expiry {
            case .expiresAtMs(let at): expiry = .at(at)
            case .expiresInSeconds(let seconds): expiry = .inSeconds(seconds)
            case nil: expiry = .tenantMaximum
            }
            let generated = try service.generate(caller, name: r.name, expiry: expiry)
            return GenerateKeyResponse(key: .init(generated.key, at: service.clock.nowMilliseconds), secret: generated.secret)
        }
        route("/apikeys.v1.Keys/List", in: &router) { (r: ListKeysRequest, caller) throws(DomainError) in
            let request = KeyListRequest(
                search: r.search, status: try APIKeysDomain.KeyStatus(filter: r.status),
                sortBy: APIKeysDomain.KeySortField(r.sortBy), descending: r.descending,
                pageSize: Int(r.pageSize), pageToken: r.pageToken)
            let page = try service.list(caller, request)
            let now = service.clock.nowMilliseconds
            return ListKeysResponse(keys: page.keys.map { ApiKey($0, at: now) }, nextPageToken: page.nextPageToken)
        }
        route("/apikeys.v1.Keys/Get", in: &router) { (r: GetKeyRequest, caller) throws(DomainError) in
            GetKeyResponse(key: .init(try service.get(caller, keyID: r.keyID), at: service.clock.nowMilliseconds))
        }
        route("/apikeys.v1.Keys/Rename", in: &router) { (r: RenameKeyRequest, caller) throws(DomainError) in
            RenameKeyResponse(key: .init(try service.rename(caller, keyID: r.keyID, name: r.name), at: service.clock.nowMilliseconds))
        }
        route("/apikeys.v1.Keys/Revoke", in: &router) { (r: RevokeKeyRequest, caller) throws(DomainError) in
            RevokeKeyResponse(key: .init(try service.revoke(caller, keyID: r.keyID, reason: r.reason), at: service.clock.nowMilliseconds))
        }
        route("/apikeys.v1.Keys/RevokeMany", in: &router) { (r: RevokeKeysRequest, caller) throws(DomainError) in
            let results = try service.revokeMany(caller, keyIDs: r.keyIDs, reason: r.reason)
            return RevokeKeysResponse(results: results.map(RevokeKeyResult.init))
        }
        route("/apikeys.v1.Keys/Delete", in: &router) { (r: DeleteKeyRequest, caller) throws(DomainError) in
            try service.delete(caller, keyID: r.keyID)
            return DeleteKeyResponse()
        }
    }

    private func registerEvents(in router: inout RPCRouter) {
        let service = self.service
        route("/apikeys.v1.Events/List", in: &router) { (r: ListEventsRequest, caller) throws(DomainError) in
            let page = try service.listEvents(caller, EventListRequest(
                keyID: r.keyID, action: r.action, actor: r.actor, since: r.sinceMs, until: r.untilMs,
                pageSize: Int(r.pageSize), pageToken: r.pageToken))
            return ListEventsResponse(events: page.events.map(APIKeysWire.Event.init), nextPageToken: page.nextPageToken)
        }
    }

    /// X8: the hot path. Memory only, so it runs on the event loop with no task or thread hop.
    private func registerVerification(in router: inout RPCRouter) {
        let service = self.service
        let pool = self.pool
        let method = "/apikeys.v1.Verification/Verify"
        let operation = MethodTable.operation(for: method)
        let refusals = RefusalRecorder()
        let services = ServiceCallerCache()
        let certificateServices = self.certificateServices
        let logger = self.logger
        let metrics = self.metrics
        router.registerNonBlocking(method) { (r: VerifyRequest, call) in
            do throws(DomainError) {
                let caller = try services.caller(of: call, service: service) { () throws(DomainError) in
                    try Self.caller(of: call, service: service, certificateServices: certificateServices)
                }
                call.annotations?.record(caller)
                do throws(DomainError) {
                    _ = try service.check(caller, operation.requirement)
                } catch {
                    // Recording the refusal (X10) writes to the store: never on the event loop.
                    refusals.record(on: pool) { _ = try? service.authorize(caller, operation) }
                    throw error
                }
                let principal = try service.verify(r.secret, verifier: caller)
                call.annotations?.update { $0.tenant = principal.tenantID; $0.user = principal.userID; $0.keyID = principal.keyID }
                metrics?.verifyOutcome("ok")
                return VerifyResponse(principal: .init(principal))
            } catch {
                call.annotations?.record(error)
                metrics?.verifyOutcome(error.reason)
                throw Self.answer(error, method: method, logger: logger)
            }
        }
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
        let hasIdentity = call.metadata["x-tenant-id"] != nil || call.metadata["x-user-id"] != nil
        guard let authorization = call.metadata["authorization"], !hasIdentity else { return try resolve() }
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
