// swift-tools-version:6.2
import PackageDescription

let package = Package(
    name: "fly-multiregion-users",
    platforms: [.macOS(.v15)],
    products: [
        // The multi-region machinery with no web framework: regions, database URLs and replica
        // discovery, the pool, the replica tracker, the data API, deadlines, migrations.
        .library(name: "MultiRegion", targets: ["MultiRegion"]),
        // The Hummingbird layer: the request context, write and read routing, read-your-writes,
        // /healthz and /readyz, the badge's facts, the early-answer channel handler.
        .library(name: "HummingbirdMultiRegion", targets: ["HummingbirdMultiRegion"]),
        // The local stand-in for Fly's proxy, as a library and as the `Edge` executable.
        .library(name: "LocalEdge", targets: ["LocalEdge"]),
        .executable(name: "Edge", targets: ["Edge"]),
        // Test helpers: a real primary and streaming replica, requests through the local edge.
        .library(name: "MultiRegionTesting", targets: ["MultiRegionTesting"]),
        .executable(name: "App", targets: ["App"]),
    ],
    dependencies: [
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1", traits: ["ConfigurationSupport"]),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
        // No JSON trait: the app reads only the environment and .env, and the JSON provider links
        // full Foundation (and ICU) into the binary.
        .package(url: "https://github.com/apple/swift-configuration.git", from: "1.4.0", traits: []),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-crypto.git", "3.12.3"..<"5.0.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-extras.git", from: "1.35.2"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        // `swift package generate-documentation --target MultiRegion` (and the other libraries).
        .package(url: "https://github.com/swiftlang/swift-docc-plugin.git", from: "1.5.0"),
    ],
    targets: [
        .target(
            name: "MultiRegion",
            dependencies: [
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Configuration", package: "swift-configuration"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        .target(
            name: "HummingbirdMultiRegion",
            dependencies: [
                .byName(name: "MultiRegion"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
            ]
        ),
        .target(
            name: "LocalEdge",
            dependencies: [
                .byName(name: "HummingbirdMultiRegion"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .executableTarget(
            name: "Edge",
            dependencies: [
                .byName(name: "LocalEdge"),
                .byName(name: "HummingbirdMultiRegion"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Hummingbird", package: "hummingbird"),
            ]
        ),
        .target(
            name: "MultiRegionTesting",
            dependencies: [
                .byName(name: "MultiRegion"),
                .byName(name: "LocalEdge"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Configuration", package: "swift-configuration"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // The users app: the libraries' first client.
        .executableTarget(
            name: "App",
            dependencies: [
                .byName(name: "MultiRegion"),
                .byName(name: "HummingbirdMultiRegion"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Configuration", package: "swift-configuration"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ]
        ),
        // Stock Hummingbird and PostgresNIO serving the same reads with nothing of the app:
        // `scripts/bench-http --baseline` measures it beside the app, as the ceiling here.
        .executableTarget(
            name: "Baseline",
            dependencies: [
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
            ]
        ),
        .testTarget(
            name: "MultiRegionTests",
            dependencies: [
                .byName(name: "MultiRegion"),
                .byName(name: "MultiRegionTesting"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "MetricsTestKit", package: "swift-metrics"),
            ]
        ),
        .testTarget(
            name: "HummingbirdMultiRegionTests",
            dependencies: [
                .byName(name: "HummingbirdMultiRegion"),
                .byName(name: "MultiRegionTesting"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Configuration", package: "swift-configuration"),
            ]
        ),
        .testTarget(
            name: "LocalEdgeTests",
            dependencies: [
                .byName(name: "LocalEdge"),
                .byName(name: "MultiRegionTesting"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .testTarget(
            name: "AppTests",
            dependencies: [
                .byName(name: "App"),
                .byName(name: "MultiRegion"),
                .byName(name: "HummingbirdMultiRegion"),
                .byName(name: "MultiRegionTesting"),
                .byName(name: "LocalEdge"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
            ]
        ),
    ]
)
