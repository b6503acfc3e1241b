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
        .executableTarget(
            name: "MempoolBenchmarks",
            dependencies: [
                .product(name: "PMDCore", package: vfpmd),
                .product(name: "Benchmark", package: "benchmark"),
            ],
            path: "Benchmarks/MempoolBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
    ],
    swiftLanguageModes: [.v6]
)
