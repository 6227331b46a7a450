import APIKeysClient
import APIKeysServer
import APIKeysWire
import Foundation
import Synchronization
import Testing

/// Durability: everything acknowledged is there after a restart on the same data directory,
/// after a graceful stop and after SIGKILL.
@Suite("Restart")
struct RestartTests {
    @Test("Restart: keys, revocations, settings, roles, events and usage survive a stop and a start")
    func gracefulRestart() async throws {
        let directory = Self.temporaryDirectory("restart")
        let first = try await TestServer.start(dataDirectory: directory) { configuration in
            configuration.rpc.connection.idleTimeout = .seconds(60)
            // Usage stays in memory until the shutdown flushes it.
            configuration.usageFlushInterval = .seconds(3600)
        }
        let operatorSecret = try #require(first.newOperatorCredential)
        let server = try await SharedServer.provision(host: first.host, port: first.port, operatorSecret: operatorSecret)
        let t = try await RuleTenant.make(on: server)
        let workload = try await Workload.run(t)
        // An expired key whose expiry was observed (X10: key.expired, once).
        let (expired, _) = try await t.generate(t.admin, name: "expires", expiry: .expiresInSeconds(1))
        try await Task.sleep(until: .now + .milliseconds(Int(max(0, expired.expiresAtMs - nowMs())) + 50))
        #expect(try await t.key(expired.id).status == .expired)
        let before = try await Snapshot.take(t)
        #expect(before.keys.contains { $0.useCount == 3 })
        await t.close()
        await first.stop()

        let second = try await TestServer.start(dataDirectory: directory) { $0.rpc.connection.idleTimeout = .seconds(60) }
        #expect(second.newOperatorCredential == nil, "the operator credential is created once")
        let restarted = SharedServer(host: second.host, port: second.port, operatorSecret: operatorSecret, serviceSecret: server.serviceSecret)
        let t2 = try await RuleTenant.attach(tenant: t.id, on: restarted)
        let after = try await Snapshot.take(t2)
        #expect(after.settings == before.settings)
        #expect(after.users == before.users)
        #expect(after.keys == before.keys, "keys, statuses, names and usage")
        // The expiry observed before the stop (stored by its flush) is not raised again.
        #expect(try await t2.key(expired.id).status == .expired)
        _ = try await t2.allKeys()
        let expiredEvents = try await t2.events(APIKeysV1.ListEventsRequest(keyID: expired.id, action: "key.expired"))
        // (The expiry event was still in memory at the snapshot; the shutdown flush stored it.)
        #expect(after.events.filter { $0.action != "key.expired" } == before.events)
        #expect(expiredEvents.count == 1)
        try await workload.check(t2)
        await t2.close()
        await second.stop()
    }

    @Test("Restart: after SIGKILL between calls and during a burst of writes, everything acknowledged is there")
    func killNine() async throws {
        let directory = Self.temporaryDirectory("sigkill")
        var daemon = try Daemon(dataDirectory: directory)
        defer { daemon.stop() }
        let port = try await daemon.port()
        let operatorSecret = try await daemon.value(after: "operator credential: ")
        let server = try await SharedServer.provision(host: "127.0.0.1", port: port, operatorSecret: operatorSecret)
        let t = try await RuleTenant.make(on: server)
        let workload = try await Workload.run(t)
        try await t.addUser("burst")
        let before = try await Snapshot.take(t)

        // Killed between calls: every write above was acknowledged.
        daemon.kill9()
        daemon = try Daemon(dataDirectory: directory)
        var restarted = SharedServer(
            host: "127.0.0.1", port: try await daemon.port(), operatorSecret: operatorSecret, serviceSecret: server.serviceSecret)
        var t2 = try await RuleTenant.attach(tenant: t.id, on: restarted)
        var after = try await Snapshot.take(t2)
        #expect(after.settings == before.settings)
        #expect(after.users == before.users)
        #expect(after.keys.map(\.withoutUsage) == before.keys.map(\.withoutUsage))
        // Usage is flushed every second: a crash may lose up to that much, never more than was counted.
        for (old, new) in zip(before.keys, after.keys) { #expect(new.useCount <= old.useCount) }
        #expect(Set(before.events.map(\.id)).isSubset(of: Set(after.events.map(\.id))))
        #expect(after.events.filter { before.events.map(\.id).contains($0.id) } == before.events)
        try await workload.check(t2)

        // Killed during a burst of writes on four connections.
        _ = try await t2.settings(APIKeysV1.UpdateSettingsRequest(maxKeysPerUser: 1000))
        let acknowledged = Locked<[String]>([])
        let revokedAcknowledged = Locked<[String]>([])
        var attached: [RuleTenant] = []
        for _ in 0..<4 { attached.append(try await RuleTenant.attach(tenant: t.id, on: restarted)) }
        let writers = attached
        let burst = Task {
            await withTaskGroup(of: Void.self) { group in
                for (i, writer) in writers.enumerated() {
                    group.addTask {
                        for n in 0..<1000 {
                            guard let key = try? await writer.generate("burst", name: "burst \(i)-\(n)").key else { return }
                            acknowledged.withLock { $0.append(key.id) }
                            if n % 3 == 0 {
                                guard (try? await writer.adminClient.revokeKey(APIKeysV1.RevokeKeyRequest(keyID: key.id))) != nil else { return }
                                revokedAcknowledged.withLock { $0.append(key.id) }
                            }
                        }
                    }
                }
            }
        }
        let deadline = ContinuousClock.now + .seconds(10)
        while acknowledged.withLock({ $0.count }) < 40, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(5))
        }
        daemon.kill9()
        await burst.value
        let acked = Set(acknowledged.withLock { $0 })
        let revokedAcked = Set(revokedAcknowledged.withLock { $0 })
        #expect(acked.count >= 40)

        daemon = try Daemon(dataDirectory: directory)
        restarted = SharedServer(
            host: "127.0.0.1", port: try await daemon.port(), operatorSecret: operatorSecret, serviceSecret: server.serviceSecret)
        t2 = try await RuleTenant.attach(tenant: t.id, on: restarted)
        let burstKeys = try await t2.allKeys(APIKeysV1.ListKeysRequest(search: "burst "))
        let stored = Dictionary(uniqueKeysWithValues: burstKeys.map { ($0.id, $0) })
        #expect(acked.subtracting(stored.keys).isEmpty, "\(acked.subtracting(stored.keys).count) acknowledged keys lost")
        for id in revokedAcked { #expect(stored[id]?.status == .revoked, "acknowledged revocation of \(id) lost") }
        let generatedEvents = Set(try await t2.events(APIKeysV1.ListEventsRequest(action: "key.generated", actor: "user:burst")).map(\.keyID))
        #expect(acked.isSubset(of: generatedEvents), "every acknowledged key has its event")
        after = try await Snapshot.take(t2)
        #expect(after.keys.filter { $0.ownerID != "burst" }.map(\.withoutUsage) == before.keys.map(\.withoutUsage))
        #expect(after.settings?.maxKeysPerUser == 1000)
        try await workload.check(t2, maxKeysPerUser: 1000)
        for writer in writers { await writer.close() }
        await t2.close()
        await t.close()
    }

    static func temporaryDirectory(_ name: String) -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("apikeys-\(name)-\(UUID().uuidString)").path
    }
}

/// The writes whose effects must survive: settings, roles, licenses, keys in every state,
/// a removed user, usage.
struct Workload {
    var activeSecrets: [String: String] = [:]  // key ID -> secret
    var revokedSecrets: [String] = []
    var deletedSecret = ""

    static func run(_ t: RuleTenant) async throws -> Workload {
        var w = Workload()
        _ = try await t.settings(APIKeysV1.UpdateSettingsRequest(maxExpirySeconds: 7200, maxKeysPerUser: 3, excessiveUsePerMinute: 1000))
        try await t.addUser("dana")
        try await t.addUser("erik")
        try await t.addUser("lars", roles: [], licensed: false)
        try await t.addUser("gone")
        _ = try await t.adminClient.assignRole(APIKeysV1.AssignRoleRequest(userID: t.admin, role: .developer))
        _ = try await t.adminClient.setLicense(APIKeysV1.SetLicenseRequest(userID: "lars", licensed: true))

        let (kept, keptSecret) = try await t.generate("dana", name: "kept")
        _ = try await t.as("dana").renameKey(APIKeysV1.RenameKeyRequest(keyID: kept.id, name: "kept, renamed"))
        let (revoked, revokedSecret) = try await t.generate("dana", name: "revoked")
        _ = try await t.adminClient.revokeKey(APIKeysV1.RevokeKeyRequest(keyID: revoked.id, reason: "leaked"))
        let (deleted, deletedSecret) = try await t.generate("dana", name: "deleted")
        _ = try await t.as("dana").deleteKey(APIKeysV1.DeleteKeyRequest(keyID: deleted.id))
        let (erikKey, erikSecret) = try await t.generate("erik", name: "erik's")
        _ = try await t.adminClient.removeRole(APIKeysV1.RemoveRoleRequest(userID: "erik", role: .developer))
        let (_, goneSecret) = try await t.generate("gone", name: "gone's")
        _ = try await t.operator.removeUser(APIKeysV1.RemoveUserRequest(tenantID: t.id, userID: "gone"))
        for _ in 0..<3 { _ = try await t.verifier.verify(APIKeysV1.VerifyRequest(secret: keptSecret)) }
        _ = try await t.verifier.verify(APIKeysV1.VerifyRequest(secret: erikSecret))

        w.activeSecrets = [kept.id: keptSecret, erikKey.id: erikSecret]
        w.revokedSecrets = [revokedSecret, goneSecret]
        w.deletedSecret = deletedSecret
        return w
    }

    /// What the restarted server must still do with that state.
    func check(_ t: RuleTenant, maxKeysPerUser: UInt32 = 3, sourceLocation: SourceLocation = #_sourceLocation) async throws {
        for (id, secret) in activeSecrets {
            #expect(try await t.verifier.verify(APIKeysV1.VerifyRequest(secret: secret)).principal?.keyID == id, sourceLocation: sourceLocation)
        }
        for secret in revokedSecrets {
            await expectRefused(.unauthenticated, rule: "R12", reason: "revoked", sourceLocation: sourceLocation) {
                try await t.verifier.verify(APIKeysV1.VerifyRequest(secret: secret))
            }
        }
        await expectRefused(.unauthenticated, rule: "X8", reason: "unknown", sourceLocation: sourceLocation) {
            try await t.verifier.verify(APIKeysV1.VerifyRequest(secret: deletedSecret))
        }
        // Roles, licenses and settings still govern.
        await expectRefused(.permissionDenied, rule: "R4", reason: "not_developer", sourceLocation: sourceLocation) {
            try await t.generate("erik")
        }
        await expectRefused(.permissionDenied, rule: "R4", reason: "not_developer", sourceLocation: sourceLocation) {
            try await t.generate("lars")
        }
        await expectRefused(.unauthenticated, rule: "X13", reason: "unknown_user", sourceLocation: sourceLocation) {
            try await t.as("gone").listKeys()
        }
        let settings = try #require(try await t.adminClient.getSettings().settings, sourceLocation: sourceLocation)
        #expect(settings.apiKeysEnabled && settings.maxExpirySeconds == 7200 && settings.maxKeysPerUser == maxKeysPerUser, sourceLocation: sourceLocation)
        await expectRefused(.invalidArgument, rule: "X2", reason: "expiry_beyond_maximum", sourceLocation: sourceLocation) {
            try await t.generate(t.admin, expiry: .expiresInSeconds(7201))
        }
    }
}

/// What a tenant admin can read of a tenant.
struct Snapshot: Equatable {
    var settings: APIKeysV1.TenantSettings?
    var users: [APIKeysV1.User]
    var keys: [APIKeysV1.ApiKey]
    var events: [APIKeysV1.Event]

    static func take(_ t: RuleTenant) async throws -> Snapshot {
        Snapshot(
            settings: try await t.adminClient.getSettings().settings,
            users: try await t.adminClient.listUsers().users,
            keys: try await t.allKeys(APIKeysV1.ListKeysRequest(sortBy: .id)),
            events: try await t.events())
    }
}

extension APIKeysV1.ApiKey {
    var withoutUsage: APIKeysV1.ApiKey {
        var key = self
        key.useCount = 0
        key.lastUsedAtMs = 0
        return key
    }
}

/// A value shared between tasks and threads.
final class Locked<Value: Sendable>: Sendable {
    private let mutex: Mutex<Value>

    init(_ value: Value) { mutex = Mutex(value) }

    func withLock<T>(_ body: (inout sending Value) throws -> sending T) rethrows -> T {
        try mutex.withLock(body)
    }
}

/// The real `apikeysd` binary on a free port and a given data directory.
final class Daemon: @unchecked Sendable {
    let process = Process()
    private let output = Locked<String>("")

    init(dataDirectory: String) throws {
        process.executableURL = Binaries.apikeysd
        process.arguments = ["--port", "0", "--data-dir", dataDirectory, "--threads", "2", "--log-level", "error"]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle.nullDevice
        try process.run()
        let handle = pipe.fileHandleForReading
        let output = self.output
        Thread {
            while true {
                let data = handle.availableData
                if data.isEmpty { return }
                output.withLock { $0 += String(decoding: data, as: UTF8.self) }
            }
        }.start()
    }

    /// The rest of the first stdout line that starts with `prefix`.
    func value(after prefix: String, timeout: Duration = .seconds(20)) async throws -> String {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            let found = output.withLock { text in
                text.split(separator: "\n").first { $0.hasPrefix(prefix) }.map { String($0.dropFirst(prefix.count)) }
            }
            if let found { return found }
            try await Task.sleep(for: .milliseconds(10))
        }
        throw RPCError(code: .deadlineExceeded, message: "apikeysd printed no \"\(prefix)\" line: \(output.withLock { $0 })")
    }

    func port() async throws -> Int {
        let address = try await value(after: "apikeysd listening on ")
        guard let port = address.split(separator: ":").last.flatMap({ Int($0) }) else {
            throw RPCError(code: .internal, message: "no port in \"\(address)\"")
        }
        return port
    }

    func kill9() {
        guard process.isRunning else { return }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    func stop() { kill9() }
}
