// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "memory-gateway",
    products: [
        .executable(name: "memory-gateway", targets: ["Gateway"])
    ],
    targets: [
        .systemLibrary(name: "CLibPQ", path: "Sources/CLibPQ", pkgConfig: "libpq", providers: [.apt(["libpq-dev"])]),
        .systemLibrary(name: "CCrypto", path: "Sources/CCrypto", pkgConfig: "libcrypto", providers: [.apt(["libssl-dev"])]),
        .systemLibrary(name: "CSystem", path: "Sources/CSystem"),
        .systemLibrary(name: "CCurl", path: "Sources/CCurl", pkgConfig: "libcurl", providers: [.apt(["libcurl4-openssl-dev"])]),
        .target(name: "PostgresStore", dependencies: ["CLibPQ"]),
        .target(name: "Auth", dependencies: ["CCrypto"]),
        .target(name: "HTTPServer", dependencies: ["CSystem"]),
        .executableTarget(
            name: "Gateway",
            dependencies: ["PostgresStore", "Auth", "HTTPServer", "CCurl", "CSystem"],
            resources: [.embedInCode("Migrations"), .embedInCode("Console")]
        ),
        // A private PostgreSQL server for tests that stop, crash and restart it (both database test targets).
        .target(name: "PostgresTestServer", path: "Tests/PostgresTestServer"),
        .testTarget(name: "PostgresStoreTests", dependencies: ["PostgresStore", "PostgresTestServer"]),
        .testTarget(name: "AuthTests", dependencies: ["Auth"]),
        .testTarget(name: "HTTPServerTests", dependencies: ["HTTPServer"]),
        .testTarget(name: "GatewayTests", dependencies: ["Gateway", "PostgresStore", "Auth", "HTTPServer", "PostgresTestServer"]),
    ],
    swiftLanguageModes: [.v6]
)
