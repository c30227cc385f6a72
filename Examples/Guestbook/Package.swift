// swift-tools-version:6.2
import PackageDescription

// A second client of the multi-region libraries, in a package of its own: it can reach only
// their declared products and public API, as an app that depends on them by URL would.
let package = Package(
    name: "guestbook",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "GuestbookServer", targets: ["GuestbookServer"]),
    ],
    dependencies: [
        // In your own app: .package(url: "https://github.com/<owner>/fly-multiregion-users.git", from: "0.1.0")
        .package(name: "fly-multiregion-users", path: "../.."),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-configuration.git", from: "1.4.0", traits: []),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
    ],
    targets: [
        .target(
            name: "Guestbook",
            dependencies: [
                .product(name: "MultiRegion", package: "fly-multiregion-users"),
                .product(name: "HummingbirdMultiRegion", package: "fly-multiregion-users"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Configuration", package: "swift-configuration"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(name: "GuestbookServer", dependencies: [.byName(name: "Guestbook")]),
        .testTarget(
            name: "GuestbookTests",
            dependencies: [
                .byName(name: "Guestbook"),
                .product(name: "MultiRegionTesting", package: "fly-multiregion-users"),
                .product(name: "LocalEdge", package: "fly-multiregion-users"),
            ]
        ),
    ]
)
