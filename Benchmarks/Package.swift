// swift-tools-version: 6.1
// Benchmarks of vfpmd (package-benchmark): `swift package benchmark` here, or `make bench` above.
import PackageDescription

let package = Package(
    name: "vfpmd-benchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(path: ".."),
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.0", traits: ["MallocInterposer"]),
    ],
    targets: [
        .executableTarget(
            name: "MempoolBenchmarks",
            dependencies: [
                .product(name: "PMDCore", package: "vfpmd"),
                .product(name: "Benchmark", package: "benchmark"),
            ],
            path: "Benchmarks/MempoolBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
        .executableTarget(
            name: "PcapBenchmarks",
            dependencies: [
                .product(name: "PMDCore", package: "vfpmd"),
                .product(name: "PcapIO", package: "vfpmd"),
                .product(name: "Benchmark", package: "benchmark"),
            ],
            path: "Benchmarks/PcapBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
    ],
    swiftLanguageModes: [.v6]
)
