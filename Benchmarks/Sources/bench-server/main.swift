import APIKeysDomain
import APIKeysServer
import APIKeysWire
import BenchCore
import Dispatch
import Foundation
import Logging

// apikeysd's server (APIKeysServer, the same routes, service and store) behind a synchronous
// main, for valgrind: apikeysd's async main ends in dispatch_main, whose signal thread
// valgrind 3.19 cannot run ("the 'impossible' happened", SIGSEGV inside valgrind, even for
// `apikeysd --version`). Flags as apikeysd's row-1 configuration; the access log and metrics
// are off, as at `--log-level warning` without `--http-port`.
//
//   bench-server --data-dir DIR --port P --credential SECRET [--threads 1] [--max-concurrent-calls 256]
let args = Arguments()
var configuration = ServerConfiguration()
configuration.rpc.host = "127.0.0.1"
configuration.rpc.port = args.int("port", 7420)
configuration.rpc.threads = args.int("threads", 1)
configuration.rpc.connection.maxConcurrentCalls = args.int("max-concurrent-calls", 256)
configuration.dataDirectory = args.string("data-dir", "data")
configuration.serviceCredentials = [.init(name: "bench", secret: args.string("credential", ""), scope: .act)]
configuration.accessLog = false
configuration.metrics = false
var logger = Logger(label: "bench-server")
logger.logLevel = .warning

let server: APIKeysServer
do {
    server = try APIKeysServer(configuration: configuration, logger: logger)
} catch {
    fail("cannot open the server: \(error)")
}
let started = DispatchSemaphore(value: 0)
Task.detached {  // not the main actor: the main thread blocks below
    do {
        let address = try await server.start()
        // Unbuffered (stdout is a file, not a terminal): the script waits for this line.
        FileHandle.standardOutput.write(Data("bench-server listening on \(address.host):\(address.port)\n".utf8))
    } catch {
        fail("cannot start: \(error)")
    }
    started.signal()
}
started.wait()
// Serves until killed; the main thread only sleeps (no dispatch_main).
while true { sleep(3600) }
