// swift-tools-version:6.1
// The Swift half of the fuzzing: a libFuzzer harness over APIKeysWire's decoding path.
// Built by scripts/fuzz.sh, never by the main package; see Fuzz/README.md.
//
// The wire targets are the main package's own sources (Sources/<target> here are symlinks
// to ../../../Sources/<target>), declared as in the main Package.swift. Depending on the
// main package by path would load all of it, and APIKeysWire is not one of its products.
import PackageDescription

let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

let package = Package(
    name: "apikeys-fuzz",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.3"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-certificates.git", from: "1.21.1"),
        .package(url: "https://github.com/apple/swift-asn1.git", from: "1.7.4"),
    ],
    targets: [
        // Keep these three in step with the main Package.swift.
        .systemLibrary(name: "CProtobufC", pkgConfig: "libprotobuf-c", providers: [.apt(["libprotobuf-c-dev"])]),
        .target(name: "CAPIKeysCodec", dependencies: ["CProtobufC"], cSettings: [.headerSearchPath("generated")]),
        .target(
            name: "APIKeysWire",
            dependencies: [
                "CAPIKeysCodec",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "FuzzWire",
            dependencies: [
                "APIKeysWire",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
    ]
)
