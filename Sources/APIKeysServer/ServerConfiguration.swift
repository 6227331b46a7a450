public import APIKeysDomain
public import APIKeysWire

/// Everything `apikeysd` can be told, with defaults for `make run`.
public struct ServerConfiguration: Sendable {
    /// Address, limits and timeouts of the RPC protocol.
    public var rpc = RPCServerConfiguration()
    /// Which store: the embedded SQLite database in ``dataDirectory`` (one server), or a
    /// PostgreSQL database that several servers share (X21).
    public var store = Store.sqlite
    /// Where the SQLite database lives; created (mode 0700) when missing, and locked while
    /// the server runs (X21: one server per directory).
    public var dataDirectory = "data"
    /// X21, shared store only: how long Verify answers from memory after the last successful
    /// read of the change log (the store unreachable); after that it answers UNAVAILABLE.
    public var maxStaleness: Duration = .seconds(30)
    /// X21, shared store only: the change log is read at least this often, so a lost
    /// notification delays a change by at most this much.
    public var changePollInterval: Duration = .milliseconds(500)
    /// Registers the `Conformance` test service.
    public var conformance = false
    /// Service credentials from configuration (X13, X18), accepted besides stored ones.
    public var serviceCredentials: [ServiceCredential] = []
    /// Under mutual TLS (`rpc.tls = .mutual(...)`): which client certificates authenticate as
    /// which service. A call on such a connection with no `authorization` acts as that
    /// service. Certificates naming none of these URIs get no identity.
    public var certificateServices: [CertificateService] = []
    /// An operator credential from configuration, accepted besides the stored one.
    public var operatorCredential: String?
    /// Where to write the operator credential generated on a store that has none: a new
    /// file, created 0600 (an existing file is never overwritten: the start fails instead,
    /// before anything is generated). Nil: ``APIKeysServer/newOperatorCredential`` holds it.
    public var operatorCredentialOutput: String?
    /// How often verification usage counters and events are written (X9); a crash loses
    /// at most this much of them.
    public var usageFlushInterval: Duration = .seconds(1)
    /// One info line per call (method, status, duration, who called, peer, call ID).
    public var accessLog = true
    /// Records the metrics of ``ServerMetrics`` into whatever swift-metrics backend is
    /// bootstrapped; off, no call pays for them.
    public var metrics = false
    /// X20: events older than this are deleted, a batch at a time, by the usage-flush thread.
    public var eventRetention: Duration = .seconds(400 * 86_400)

    public init() {}

    public static var defaults: ServerConfiguration { ServerConfiguration() }

    public enum Store: Sendable, Hashable {
        case sqlite
        /// `postgres://user[:password]@host[:port]/database[?schema=name]`.
        case postgres(url: String)
    }

    /// A configured service credential: its secret (32 or more characters; only its hash is
    /// kept), the actor name in events and its X18 scope.
    public struct ServiceCredential: Sendable, Hashable {
        public var name: String
        public var secret: String
        public var scope: Credential.Scope
        /// Scope `act` only: the tenants it may act in; empty means every tenant.
        public var tenants: [String]

        public init(name: String, secret: String, scope: Credential.Scope, tenants: [String] = []) {
            self.name = name
            self.secret = secret
            self.scope = scope
            self.tenants = tenants
        }
    }

    /// A client certificate whose subject alternative name URI is exactly `uri` (e.g.
    /// `spiffe://example.org/gateway`, compared byte for byte) authenticates as service
    /// `name` with `scope`. The Common Name and DNS names are never used for identity.
    public struct CertificateService: Sendable, Hashable {
        public var uri: String
        public var name: String
        public var scope: Credential.Scope
        /// Scope `act` only: the tenants it may act in; empty means every tenant.
        public var tenants: [String]

        public init(uri: String, name: String, scope: Credential.Scope, tenants: [String] = []) {
            self.uri = uri
            self.name = name
            self.scope = scope
            self.tenants = tenants
        }

        var identity: ServiceIdentity {
            ServiceIdentity(name: name, credentialID: "certificate:\(uri)", scope: scope, tenants: tenants)
        }
    }
}

extension ServerConfiguration {
    /// A duration written `400d`, `12h`, `90m`, `30s` or combined (`1d12h`); nil otherwise.
    /// A bare number is refused: days and seconds would both be plausible readings.
    public static func duration(parsing text: String) -> Duration? {
        let units: [Character: Int64] = ["d": 86_400, "h": 3600, "m": 60, "s": 1]
        var total: Int64 = 0
        var number = ""
        for c in text.lowercased() {
            if c.isASCII, c.isNumber {
                number.append(c)
            } else if let unit = units[c], let value = Int64(number) {
                let (scaled, o1) = value.multipliedReportingOverflow(by: unit)
                let (sum, o2) = total.addingReportingOverflow(scaled)
                guard !o1, !o2 else { return nil }
                total = sum
                number = ""
            } else {
                return nil
            }
        }
        guard number.isEmpty, total > 0 else { return nil }
        return .seconds(total)
    }
}
