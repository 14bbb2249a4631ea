// swift-tools-version:6.1
// libFuzzer harnesses for Leasehold's decoders and connection handling: a nested package (as bench/ is), built only by
// scripts/fuzz.sh with `-sanitize=fuzzer,address`, so that building Leasehold never needs libFuzzer.
import PackageDescription

let swiftSettings: [SwiftSetting] = [
    .swiftLanguageMode(.v6),
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
    .enableUpcomingFeature("InternalImportsByDefault"),
    // libFuzzer brings `main`; the harness brings only LLVMFuzzerTestOneInput.
    .unsafeFlags(["-parse-as-library"]),
]

let products: [Product] = [
    .executable(name: "fuzz-frame", targets: ["FuzzFrame"]),
    .executable(name: "fuzz-messages", targets: ["FuzzMessages"]),
    .executable(name: "fuzz-connection", targets: ["FuzzConnection"]),
]

let dependencies: [Package.Dependency] = [
    // Named, because a path dependency's identity is its folder's name (a worktree or clone may be called anything).
    .package(name: "leasehold", path: ".."),
    .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
]

let nioCore: Target.Dependency = .product(name: "NIOCore", package: "swift-nio")

let targets: [Target] = [
    .executableTarget(
        name: "FuzzFrame",
        dependencies: [.product(name: "LeaseholdWire", package: "leasehold"), nioCore],
        swiftSettings: swiftSettings
    ),
    .executableTarget(
        name: "FuzzMessages",
        dependencies: [
            .product(name: "LeaseholdWire", package: "leasehold"),
            .product(name: "FencedResourceWire", package: "leasehold"), nioCore,
        ],
        swiftSettings: swiftSettings
    ),
    .executableTarget(
        name: "FuzzConnection",
        dependencies: [
            .product(name: "LeaseholdRPC", package: "leasehold"), .product(name: "LeaseholdWire", package: "leasehold"),
            nioCore, .product(name: "NIOEmbedded", package: "swift-nio"),
            .product(name: "Logging", package: "swift-log"),
        ],
        swiftSettings: swiftSettings
    ),
]

let package = Package(
    name: "leasehold-fuzz",
    platforms: [.macOS(.v15)],
    products: products,
    dependencies: dependencies + [.package(url: "https://github.com/apple/swift-log.git", from: "1.16.2")],
    targets: targets
)
