// swift-tools-version: 6.1
// vfpmd: a userspace poll-mode driver for Intel SR-IOV Virtual Functions (ixgbevf, igbvf).
import PackageDescription

let package = Package(
    name: "vfpmd",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "vfpmd", targets: ["vfpmd"]),
        .library(name: "PMDCore", targets: ["PMDCore"]),
        .library(name: "PcapIO", targets: ["PcapIO"]),
        .library(name: "VFSimulator", targets: ["VFSimulator"]),
        .library(name: "VFDriver", targets: ["VFDriver"]),
        .library(name: "PCISysfs", targets: ["PCISysfs"]),
        .library(name: "VFIO", targets: ["VFIO"]),
        .library(name: "Apps", targets: ["Apps"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-system", from: "1.4.0"),
        .package(url: "https://github.com/apple/swift-atomics", from: "1.2.0"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift", from: "0.1.0"),
        .package(url: "https://github.com/x-sheep/swift-property-based", from: "2.0.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/swhitty/FlyingFox", from: "0.27.1"),
    ],
    targets: [
        // C: volatile MMIO, barriers, rdtsc, prefetch; <linux/vfio.h> ioctls.
        .target(name: "CShims"),
        // libpcap through pkg-config (Debian: libpcap-dev).
        .systemLibrary(name: "CPcap", pkgConfig: "libpcap", providers: [.apt(["libpcap-dev"])]),
        // Packets, batches, mempools, DMA memory, the PCIFunction and Port protocols.
        .target(
            name: "PMDCore",
            dependencies: [
                "CShims",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "SystemPackage", package: "swift-system"),
                .product(name: "Atomics", package: "swift-atomics"),
            ]
        ),
        // pcap writer (its own buffer, rotation), reader and BPF filters (libpcap), pcap file port.
        .target(
            name: "PcapIO",
            dependencies: [
                "PMDCore",
                "CPcap",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "SystemPackage", package: "swift-system"),
            ]
        ),
        // A software ixgbevf/igbvf VF with its PF, IOMMU, wires and fault injection.
        .target(
            name: "VFSimulator",
            dependencies: [
                "PMDCore",
                "CShims",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // sysfs PCI administration: addresses, discovery, vfio-pci binding, SR-IOV, the checks
        // made before VFIO opens a device.
        .target(
            name: "PCISysfs",
            dependencies: [
                "PMDCore",
                .product(name: "SystemPackage", package: "swift-system"),
            ]
        ),
        // Linux VFIO: container, groups, devices, DMA mapping (IOMMU or no-IOMMU).
        .target(
            name: "VFIO",
            dependencies: [
                "PMDCore",
                "PCISysfs",
                "CShims",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "SystemPackage", package: "swift-system"),
            ]
        ),
        // The poll-mode driver: family tables, mailbox, lifecycle, RX/TX queues. Knows only PMDCore.
        .target(
            name: "VFDriver",
            dependencies: [
                "PMDCore",
                "CShims",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The apps: forwarder, capture, traffic generator and meter; port specs and openers; the
        // Prometheus metrics endpoint.
        .target(
            name: "Apps",
            dependencies: [
                "PMDCore",
                "PcapIO",
                "VFSimulator",
                "VFDriver",
                "PCISysfs",
                "VFIO",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Atomics", package: "swift-atomics"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "FlyingFox", package: "FlyingFox"),
                .product(name: "FlyingSocks", package: "FlyingFox"),
            ]
        ),
        .executableTarget(
            name: "vfpmd",
            dependencies: [
                "PMDCore",
                "PcapIO",
                "Apps",
                "PCISysfs",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(name: "CShimsTests", dependencies: ["CShims"]),
        .testTarget(name: "PMDCoreTests", dependencies: ["PMDCore", "CShims"]),
        // Helpers shared by the test targets.
        .target(name: "TestSupport", path: "Tests/TestSupport"),
        .testTarget(name: "PcapIOTests", dependencies: ["PcapIO", "PMDCore", "CPcap", "TestSupport"]),
        .testTarget(name: "VFSimulatorTests", dependencies: ["VFSimulator", "PMDCore", "CShims", "TestSupport"]),
        // A simulated VF with in-memory wires, for the driver and reliability tests.
        .target(name: "DriverTestSupport", dependencies: ["VFDriver", "VFSimulator", "PMDCore"], path: "Tests/DriverTestSupport"),
        .testTarget(name: "VFDriverTests", dependencies: ["VFDriver", "VFSimulator", "PMDCore", "DriverTestSupport", "TestSupport"]),
        // A fake sysfs tree (devices, drivers, groups, SR-IOV files) and a kernel that answers writes.
        .target(name: "SysfsTestSupport", dependencies: ["PCISysfs"], path: "Tests/SysfsTestSupport"),
        .testTarget(name: "PCISysfsTests", dependencies: ["PCISysfs", "PMDCore", "SysfsTestSupport"]),
        .testTarget(name: "VFIOTests", dependencies: ["VFIO", "PCISysfs", "PMDCore", "CShims", "SysfsTestSupport"]),
        .testTarget(name: "AppsTests", dependencies: ["Apps", "PcapIO", "PMDCore", "PCISysfs", "VFSimulator", "TestSupport",
                                                    .product(name: "PropertyBased", package: "swift-property-based")]),
        // The fault matrix, hostile input and security checks on simulator, driver and apps together.
        .testTarget(name: "ReliabilityTests", dependencies: ["Apps", "VFDriver", "VFSimulator", "PCISysfs", "VFIO", "PMDCore", "PcapIO", "DriverTestSupport"]),
        // Forwarding between simulated VFs with random faults for a given time (scripts/soak.sh).
        .executableTarget(
            name: "vfpmd-soak",
            dependencies: ["Apps", "VFDriver", "VFSimulator", "PMDCore"],
            path: "Sources/Soak"
        ),
    ],
    swiftLanguageModes: [.v6]
)

// libFuzzer targets, one per input the project parses (scripts/fuzz.sh builds them with
// `--sanitize fuzzer --sanitize address`); only with VFPMD_FUZZ=1, since they have no main.
if Context.environment["VFPMD_FUZZ"] == "1" {
    for name in ["FuzzPcapReader", "FuzzPortSpec", "FuzzMailboxReply", "FuzzRxWriteBack"] {
        package.targets.append(.executableTarget(
            name: name,
            dependencies: ["Apps", "PcapIO", "VFDriver", "PMDCore"],
            path: "Fuzz/\(name)",
            swiftSettings: [.unsafeFlags(["-parse-as-library"])]
        ))
    }
}
