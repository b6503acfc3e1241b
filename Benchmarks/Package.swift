// swift-tools-version: 6.1
// Benchmarks of vfpmd (package-benchmark): `swift package benchmark` here, or `make bench` above.
import Foundation
import PackageDescription

/// The vfpmd package is the folder above; SwiftPM names a path dependency after its folder.
let vfpmdRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
let vfpmd = vfpmdRoot.lastPathComponent

let package = Package(
    name: "vfpmd-benchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(path: vfpmdRoot.path),
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.0", traits: ["MallocInterposer"]),
    ],
    targets: [
        // Two simulated VFs opened by the driver, stepped in the caller's thread; the measured loops.
        .target(
            name: "DriverRig",
            dependencies: [
                .product(name: "PMDCore", package: vfpmd),
                .product(name: "VFDriver", package: vfpmd),
                .product(name: "VFSimulator", package: vfpmd),
            ],
            path: "Sources/DriverRig"
        ),
        // The forward loop alone, for scripts/datapath-cost.sh (callgrind) and TSC ticks per packet.
        .executableTarget(
            name: "datapath-cost",
            dependencies: ["DriverRig", .product(name: "PMDCore", package: vfpmd)],
            path: "Sources/datapath-cost"
        ),
        .executableTarget(
            name: "DriverBenchmarks",
            dependencies: [
                "DriverRig",
                .product(name: "PMDCore", package: vfpmd),
                .product(name: "Benchmark", package: "benchmark"),
            ],
            path: "Benchmarks/DriverBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
        .executableTarget(
            name: "PcapBenchmarks",
            dependencies: [
                .product(name: "PMDCore", package: vfpmd),
                .product(name: "PcapIO", package: vfpmd),
                .product(name: "Benchmark", package: "benchmark"),
            ],
            path: "Benchmarks/PcapBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
        .executableTarget(
            name: "MempoolBenchmarks",
            dependencies: [
                .product(name: "PMDCore", package: vfpmd),
                .product(name: "Benchmark", package: "benchmark"),
            ],
            path: "Benchmarks/MempoolBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
        .executableTarget(
            name: "SimulatorBenchmarks",
            dependencies: [
                .product(name: "PMDCore", package: vfpmd),
                .product(name: "VFSimulator", package: vfpmd),
                .product(name: "Benchmark", package: "benchmark"),
            ],
            path: "Benchmarks/SimulatorBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
    ],
    swiftLanguageModes: [.v6]
)
