import BenchCore
import Hummingbird
import Logging
import NIOPosix

// The HTTP/JSON peer: `POST /v1/keys:verify` with `{"secret":"…"}` on Hummingbird 2,
// answering `{"principal":{…}}` from the in-memory lookup of VerifyLookup.
//
//   bench-http --port P --keys keys.tsv --credential SECRET [--threads 1]
let args = Arguments()
let port = args.int("port", 7423)
let lookup = VerifyLookup(keys: KeySet.load(path: args.string("keys", "keys.tsv")),
                          serviceCredential: args.string("credential", ""))

struct VerifyBody: Decodable {
    var secret: String
}

struct PrincipalBody: Codable {
    var tenantID: String
    var userID: String
    var keyID: String
    var roles: [String]
    var expiresAtMs: Int64

    enum CodingKeys: String, CodingKey {
        case tenantID = "tenant_id", userID = "user_id", keyID = "key_id", roles, expiresAtMs = "expires_at_ms"
    }
}

struct VerifyResponseBody: ResponseEncodable {
    var principal: PrincipalBody
}

let router = Router()
router.post("/v1/keys:verify") { [lookup] request, context -> VerifyResponseBody in
    let body = try await request.decode(as: VerifyBody.self, context: context)
    switch lookup.verify(authorization: request.headers[.authorization], secret: body.secret) {
    case .success(let entry):
        return VerifyResponseBody(principal: PrincipalBody(
            tenantID: entry.tenantID, userID: entry.userID, keyID: entry.keyID,
            roles: entry.roles, expiresAtMs: entry.expiresAtMs))
    case .failure:
        throw HTTPError(.unauthorized)
    }
}
let group = MultiThreadedEventLoopGroup(numberOfThreads: args.int("threads", 1))
var logger = Logger(label: "bench-http")
logger.logLevel = .warning
let app = Application(
    router: router,
    configuration: .init(address: .hostname("127.0.0.1", port: port), serverName: "bench-http"),
    eventLoopGroupProvider: .shared(group),
    logger: logger)
printNow("bench-http listening on 127.0.0.1:\(port) with \(lookup.count) keys")
try await app.runService()
