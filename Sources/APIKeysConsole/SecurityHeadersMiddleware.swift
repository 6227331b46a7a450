import Hummingbird
import HTTPTypes
import Logging

/// Headers every response carries, and one access-log line per request.
///
/// The Content-Security-Policy allows scripts and styles from the console's own origin
/// only: no inline script, no inline style, no other origin, no framing. The access log
/// names the method, the path (never the query, where a user may have pasted anything)
/// and the status; bodies, which may hold a secret, are never logged.
struct SecurityHeadersMiddleware: RouterMiddleware {
    typealias Context = ConsoleRequestContext
    let logger: Logger

    static let contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
        + "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let started = ContinuousClock.now
        var response: Response
        do {
            response = try await next(request, context)
        } catch let error as HTTPError {
            response = Response(status: error.status, headers: [.contentType: "text/plain; charset=utf-8"],
                                body: .init(byteBuffer: ByteBuffer(string: "\(error.status.code) \(error.status.reasonPhrase)\n")))
        }
        response.headers[.contentSecurityPolicy] = Self.contentSecurityPolicy
        response.headers[HTTPField.Name("X-Content-Type-Options")!] = "nosniff"
        response.headers[HTTPField.Name("X-Frame-Options")!] = "DENY"
        response.headers[HTTPField.Name("Referrer-Policy")!] = "no-referrer"
        if response.headers[.cacheControl] == nil {
            response.headers[.cacheControl] = "no-store"
        }
        let elapsed = ContinuousClock.now - started
        logger.info("\(request.method) \(request.uri.path) \(response.status.code)",
                    metadata: ["ms": "\(elapsed.components.seconds * 1000 + elapsed.components.attoseconds / 1_000_000_000_000_000)"])
        return response
    }
}
