import Benchmark
import Foundation
import PcapIO
import PMDCore

/// The pcap writer: records of 60 bytes (a 64-byte frame on the wire without its FCS, as a
/// capture sees it) appended to a file on tmpfs, closing the file included; and the same
/// records as pcapng Enhanced Packet Blocks.
/// Goal: at least 40 M records per second (10 GbE line rate at 64 bytes is 14.88 M).
/// `scripts/pcap-vs-tcpdump.sh` measures `tcpdump -r in.pcap -w out.pcap` for comparison.
let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .throughput, .mallocCountTotal],
        scalingFactor: .mega,
        maxDuration: .seconds(3),
        maxIterations: 10,
        thresholds: [
            .mallocCountTotal: .init(absolute: [.p90: 0]),
            .throughput: .init(relative: [.p50: 50]),
            .wallClock: .init(relative: [.p50: 50]),
        ]
    )

    Benchmark("PcapFileWriter 60-byte records to tmpfs") { benchmark in
        let directory = FileManager.default.fileExists(atPath: "/dev/shm") ? "/dev/shm" : NSTemporaryDirectory()
        let path = "\(directory)/vfpmd-pcap-bench-\(getpid()).pcap"
        defer { unlink(path) }
        try writeRecords(to: path, benchmark)
    }

    // The same records to /dev/null: the writer's own work (assembling records, one write(2) per
    // MiB) without the file system's, which on tmpfs is a page allocated and copied per 4 KiB.
    Benchmark("PcapFileWriter 60-byte records to /dev/null") { benchmark in
        try writeRecords(to: "/dev/null", benchmark)
    }

    // pcapng: 44 bytes of block around each frame instead of pcap's 16, through the same sink.
    Benchmark("PcapFileWriter 60-byte pcapng blocks to /dev/null") { benchmark in
        try writeRecords(to: "/dev/null", pcapng: PcapngDescription(application: "vfpmd", interfaceName: "bench"), benchmark)
    }
}

/// Writes `benchmark.scaledIterations` records of a 60-byte frame to a new writer on `path`
/// (pcapng when `pcapng` is given), measuring from the first record to the file closed.
func writeRecords(to path: String, pcapng: PcapngDescription? = nil, _ benchmark: Benchmark) throws {
    let frame = UnsafeMutableRawPointer.allocate(byteCount: 64, alignment: 64)
    defer { frame.deallocate() }
    frame.initializeMemory(as: UInt8.self, repeating: 0xA5, count: 64)
    let writer = try PcapFileWriter(path: path, pcapng: pcapng)
    var time = MonotonicClock.wallNanoseconds()
    benchmark.startMeasurement()
    for _ in benchmark.scaledIterations {
        writer.write(frame, length: 60, wallNanoseconds: time)
        time &+= 67
    }
    try writer.close()
    benchmark.stopMeasurement()
    precondition(writer.recordsWritten == benchmark.scaledIterations.count)
}
