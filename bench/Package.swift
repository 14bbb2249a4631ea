// swift-tools-version:6.1
// Leasehold's benchmarks: a nested package (as swift-nio's Benchmarks/ is), so that building Leasehold never
// compiles package-benchmark. `swift package benchmark` runs the micro-benchmarks; `swift build -c release
// --product leasehold-bench` builds the load generator; `./run.sh` runs the standard set against a real server.
import PackageDescription

let swiftSettings: [SwiftSetting] = [
    .swiftLanguageMode(.v6),
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
    .enableUpcomingFeature("InternalImportsByDefault"),
]

let products: [Product] = [
    .executable(name: "leasehold-bench", targets: ["LeaseholdBench"])
]

let dependencies: [Package.Dependency] = [
    // Named, because a path dependency's identity is its folder's name (a worktree or clone may be called anything).
    .package(name: "leasehold", path: ".."),
    // The MallocInterposer trait alone: the default traits also pull in swift-runtime-interposer on Linux.
    .package(url: "https://github.com/ordo-one/benchmark.git", exact: "1.38.1", traits: ["MallocInterposer"]),
    .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift.git", exact: "0.2.0"),
    .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
    .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
    .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
    .package(url: "https://github.com/apple/swift-collections.git", from: "1.6.0"),
]

let benchmark: Target.Dependency = .product(name: "Benchmark", package: "benchmark")
let benchmarkPlugin: Target.PluginUsage = .plugin(name: "BenchmarkPlugin", package: "benchmark")

let targets: [Target] = [
    // The load generator: drives a running `leasehold serve` over TCP with the RPC layer.
    .executableTarget(
        name: "LeaseholdBench",
        dependencies: [
            .product(name: "LeaseholdRPC", package: "leasehold"),
            .product(name: "LeaseholdWire", package: "leasehold"),
            .product(name: "LeaseholdCore", package: "leasehold"),
            .product(name: "LeaseholdClient", package: "leasehold"),
            .product(name: "Histogram", package: "hdrhistogram-swift"),
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "HeapModule", package: "swift-collections"),
            "CEpoll",
        ],
        swiftSettings: swiftSettings
    ),

    // <sys/epoll.h> for the loopback probe, which measures the round-trip floor below SwiftNIO.
    .target(name: "CEpoll"),

    // Micro-benchmarks, one executable per suite (the plugin finds them under Benchmarks/).
    .executableTarget(
        name: "CodecBenchmarks",
        dependencies: [
            benchmark,
            .product(name: "LeaseholdWire", package: "leasehold"),
            .product(name: "LeaseholdCore", package: "leasehold"),
            .product(name: "NIOCore", package: "swift-nio"),
        ],
        path: "Benchmarks/Codec",
        swiftSettings: swiftSettings,
        plugins: [benchmarkPlugin]
    ),
    .executableTarget(
        name: "LockTableBenchmarks",
        dependencies: [benchmark, .product(name: "LeaseholdCore", package: "leasehold")],
        path: "Benchmarks/LockTable",
        swiftSettings: swiftSettings,
        plugins: [benchmarkPlugin]
    ),
    .executableTarget(
        name: "StoreBenchmarks",
        dependencies: [
            benchmark,
            .product(name: "LeaseholdStore", package: "leasehold"),
            .product(name: "LeaseholdCore", package: "leasehold"),
            .product(name: "Logging", package: "swift-log"),
        ],
        path: "Benchmarks/Store",
        swiftSettings: swiftSettings,
        plugins: [benchmarkPlugin]
    ),
]

let package = Package(
    name: "leasehold-bench",
    platforms: [.macOS(.v15)],
    products: products,
    dependencies: dependencies,
    targets: targets
)
