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
        .testTarget(name: "PostgresStoreTests", dependencies: ["PostgresStore"]),
        .testTarget(name: "AuthTests", dependencies: ["Auth"]),
        .testTarget(name: "HTTPServerTests", dependencies: ["HTTPServer"]),
        .testTarget(name: "GatewayTests", dependencies: ["Gateway", "PostgresStore", "Auth", "HTTPServer"]),
    ],
    swiftLanguageModes: [.v6]
)
