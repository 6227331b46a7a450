import APIKeysWire
import Testing
@testable import apikeys

@Suite("apikeys: documented exit statuses (README, Exit codes)")
struct ExitStatusTests {
    @Test("each status code a script may react to has its own exit status")
    func mapping() {
        #expect(ExitStatus.of(.notFound) == 3)
        #expect(ExitStatus.of(.unauthenticated) == 4)
        #expect(ExitStatus.of(.permissionDenied) == 5)
        #expect(ExitStatus.of(.failedPrecondition) == 6)
        #expect(ExitStatus.of(.alreadyExists) == 7)
        #expect(ExitStatus.of(.unavailable) == 69)
        #expect(ExitStatus.of(.deadlineExceeded) == 69)
        #expect(ExitStatus.of(.invalidArgument) == 1)
        #expect(ExitStatus.of(.internal) == 1)
    }

    @Test("--json is read from argv, up to a --")
    func wantsJSON() {
        #expect(APIKeys.wantsJSON(["keys", "list", "--json"]))
        #expect(!APIKeys.wantsJSON(["keys", "rename", "k", "--", "--json"]))
        #expect(!APIKeys.wantsJSON(["health"]))
    }

    @Test("the tool's own failures print without a status name; the server's with it")
    func lines() {
        #expect(CLIFailure.usage("pass --yes").line == "error: pass --yes")
        let failure = CLIFailure(RPCError(code: .unauthenticated, message: "the key is revoked", rule: "R12", reason: "revoked"))
        #expect(failure.line == "error: UNAUTHENTICATED: the key is revoked [rule R12, reason revoked]")
        #expect(failure.exitStatus == 4)
    }
}
