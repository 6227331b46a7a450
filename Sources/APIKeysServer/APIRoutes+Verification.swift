import APIKeysDomain
import APIKeysWire

/// `apikeys.v1.Verification`. X8: the hot path. Memory only, so it runs on the event loop
/// with no task or thread hop (the generated handler requirement is synchronous).
extension APIRoutes: APIKeysV1.VerificationHandler {
    /// Looked up once, not per call.
    private static let verifyOperation = MethodTable.operation(for: APIKeysV1.Verification.Method.verify.rpc)

    func verify(_ r: APIKeysV1.VerifyRequest, call: ServerCall) throws -> APIKeysV1.VerifyResponse {
        let service = self.service
        do throws(DomainError) {
            let caller = try serviceCallers.caller(of: call, service: service) { () throws(DomainError) in
                try Self.caller(of: call, service: service, certificateServices: certificateServices)
            }
            call.annotations?.record(caller)
            let operation = Self.verifyOperation
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
            return APIKeysV1.VerifyResponse(principal: .init(principal))
        } catch {
            call.annotations?.record(error)
            metrics?.verifyOutcome(error.reason)
            throw Self.answer(error, method: APIKeysV1.Verification.Method.verify.path, logger: logger)
        }
    }
}
