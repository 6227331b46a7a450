// swift-tools-version:6.1
import PackageDescription

// Layers, each depending only on those above it:
// C codec -> wire -> domain -> storage -> server -> client -> command-line tools.
let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

let package = Package(
    name: "apikeys",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "apikeysd", targets: ["apikeysd"]),
        .executable(name: "apikeys", targets: ["apikeys"]),
        .executable(name: "apikeys-conformance", targets: ["apikeys-conformance"]),
        .executable(name: "apikeys-console", targets: ["apikeys-console"]),
        .library(name: "APIKeysClient", targets: ["APIKeysClient"]),
        // For Benchmarks/ (its own package): the wire, the domain and the store, used directly.
        .library(name: "APIKeysWire", targets: ["APIKeysWire"]),
        .library(name: "APIKeysDomain", targets: ["APIKeysDomain"]),
        .library(name: "APIKeysStorage", targets: ["APIKeysStorage"]),
        .library(name: "APIKeysPostgres", targets: ["APIKeysPostgres"]),
        // For Benchmarks/'s bench-server: apikeysd's server behind a main valgrind can run.
        .library(name: "APIKeysServer", targets: ["APIKeysServer"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.3"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "3.12.3"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.10.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-certificates.git", from: "1.21.1"),
        .package(url: "https://github.com/apple/swift-asn1.git", from: "1.7.4"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
        .package(url: "https://github.com/hummingbird-project/swift-mustache", from: "2.1.1"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
    ],
    targets: [
        // Debian's libprotobuf-c, found through pkg-config.
        .systemLibrary(
            name: "CProtobufC",
            pkgConfig: "libprotobuf-c",
            providers: [.apt(["libprotobuf-c-dev"])]
        ),
        // protoc-c output for proto/ plus the frame and message API that Swift uses.
        .target(
            name: "CAPIKeysCodec",
            dependencies: ["CProtobufC"],
            cSettings: [.headerSearchPath("generated")]
        ),
        .target(
            name: "APIKeysWire",
            dependencies: [
                "CAPIKeysCodec",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                // Reads the names in a verified client certificate (mTLS service identity).
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "APIKeysDomain",
            dependencies: [
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "APIKeysStorage",
            dependencies: [
                "APIKeysDomain",
                .product(name: "GRDB", package: "GRDB.swift"),
            ],
            swiftSettings: swiftSettings
        ),
        // The store that several servers share (issue 10): PostgreSQL through postgres-nio.
        .target(
            name: "APIKeysPostgres",
            dependencies: [
                "APIKeysDomain",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                // sslmode=require in the store's URL.
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "APIKeysServer",
            dependencies: [
                "APIKeysWire", "APIKeysDomain", "APIKeysStorage", "APIKeysPostgres",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                // /metrics, /healthz and /readyz on --http-port.
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "apikeysd",
            dependencies: [
                "APIKeysServer",
                "APIKeysDomain",
                "APIKeysWire",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            swiftSettings: swiftSettings
        ),
        // What a service that only verifies depends on: the wire, NIO, TLS and
        // service-lifecycle; none of the server's dependencies (GRDB, postgres-nio, Hummingbird).
        .target(
            name: "APIKeysClient",
            dependencies: [
                "APIKeysWire",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "apikeys",
            dependencies: [
                "APIKeysClient",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: swiftSettings
        ),
        // The web console (issue 13): server-rendered pages that call apikeysd with the Swift
        // client as a service of scope act, acting for the signed-in user (X13, X17).
        .target(
            name: "APIKeysConsole",
            dependencies: [
                "APIKeysClient", "APIKeysWire",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Mustache", package: "swift-mustache"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            // Compiled into the binary: nothing to install beside it.
            resources: [
                .embedInCode("Static/console.css"), .embedInCode("Static/console.js"),
                .embedInCode("Templates/events.mustache"),
                .embedInCode("Templates/hub.mustache"),
                .embedInCode("Templates/hub_confirm.mustache"),
                .embedInCode("Templates/keys.mustache"),
                .embedInCode("Templates/layout.mustache"),
                .embedInCode("Templates/message.mustache"),
                .embedInCode("Templates/revoke_confirm.mustache"),
                .embedInCode("Templates/revoke_results.mustache"),
                .embedInCode("Templates/secret.mustache"),
                .embedInCode("Templates/settings.mustache"),
                .embedInCode("Templates/settings_confirm.mustache"),
                .embedInCode("Templates/signin.mustache"),
                .embedInCode("Templates/users.mustache"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "apikeys-console",
            dependencies: [
                "APIKeysConsole", "APIKeysWire",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // The conformance cases, shared by the test suite and apikeys-conformance.
        .target(
            name: "APIKeysConformance",
            dependencies: ["APIKeysClient", "APIKeysWire"],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "apikeys-conformance",
            dependencies: [
                "APIKeysConformance",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "APIKeysWireTests",
            dependencies: [
                "APIKeysWire",
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOTestUtils", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "APIKeysDomainTests",
            dependencies: ["APIKeysDomain"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "APIKeysStorageTests",
            dependencies: ["APIKeysStorage", "APIKeysDomain", .product(name: "GRDB", package: "GRDB.swift")],
            swiftSettings: swiftSettings
        ),
        // Against a real PostgreSQL 15: APIKEYS_TEST_POSTGRES, or a cluster the tests start
        // through scripts/postgres-cluster.sh.
        .testTarget(
            name: "APIKeysPostgresTests",
            dependencies: [
                "APIKeysPostgres", "APIKeysDomain",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // The command-line tool's pure parts: help order, error hints, exit statuses, contexts.
        .testTarget(
            name: "apikeysTests",
            dependencies: [
                "apikeys", "APIKeysWire",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: swiftSettings
        ),
        // The console's pure parts: form parsing, sessions, escaping (its pages are tested
        // in a real browser by console/tests).
        .testTarget(
            name: "APIKeysConsoleTests",
            dependencies: ["APIKeysConsole"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "APIKeysIntegrationTests",
            dependencies: [
                "APIKeysServer", "APIKeysClient", "APIKeysConformance", "APIKeysWire", "APIKeysDomain",
                // Seeding and inspecting the server's SQLite file (an old database, a failing disk).
                "APIKeysStorage", .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                // The client as a Service in a ServiceGroup (issue 12).
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
    ]
)
