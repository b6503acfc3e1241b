import PMDCore
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// A source of UDP/IPv4 test frames: several sizes, several flows, a rate and a count.
///
/// Every (flow, size) frame is built once, with valid IPv4 and UDP checksums; pulling hands
/// out references to them (no copy). Flow `i` differs in the UDP source port (1024 + i) and the
/// last byte of the source address, so RSS spreads flows over queues.
public final class FrameGenerator: FrameSource, @unchecked Sendable {
    // @unchecked: pulled by one engine thread; counters read by others are atomics.

    /// What to generate.
    public struct Configuration: Sendable {
        /// Frame sizes on the wire including the 4-byte CRC (64 = the minimum Ethernet frame),
        /// used in turn.
        public var frameSizes: [Int] = [64]
        /// Number of flows.
        public var flows = 1
        /// Ethernet addresses.
        public var source = MACAddress(0x02, 0, 0, 0, 0, 0x01)
        public var destination = MACAddress(0x02, 0, 0, 0, 0, 0x02)
        /// IPv4 addresses of flow 0 (host order).
        public var sourceIP: UInt32 = 0x0A00_0001
        public var destinationIP: UInt32 = 0x0A00_0101
        /// Frames per second; nil: as fast as the VF takes them.
        public var rate: Double?
        /// Frames in all; nil: endless.
        public var count: Int?

        /// The defaults: one flow of 64-byte frames, endless, unpaced.
        public init() {}
    }

    /// The configuration.
    public let configuration: Configuration
    private let templates: UnsafeMutableRawPointer
    private let stride: Int
    /// Bytes (without CRC) of each template, and how many templates there are.
    private let lengths: UnsafeMutablePointer<Int>
    private let templateCount: Int
    // Pulled by one thread at a time: no dynamic exclusivity check at each pull.
    @exclusivity(unchecked) private var start: UInt64?
    @exclusivity(unchecked) private var next = 0
    private let produced = Atomic<Int>(0)

    /// A generator for `configuration`.
    public init(_ configuration: Configuration) {
        precondition(configuration.flows > 0 && !configuration.frameSizes.isEmpty)
        precondition(configuration.frameSizes.allSatisfy { $0 >= 64 && $0 <= 9728 }, "frame sizes are 64...9728 bytes")
        self.configuration = configuration
        let maxLength = configuration.frameSizes.max()! - 4
        stride = (maxLength + 63) & ~63
        let n = configuration.flows * configuration.frameSizes.count
        templates = .allocate(byteCount: n * stride, alignment: 64)
        templateCount = n
        lengths = .allocate(capacity: n)
        for s in 0..<configuration.frameSizes.count {
            for f in 0..<configuration.flows {
                let length = configuration.frameSizes[s] - 4
                Self.build(templates + (s * configuration.flows + f) * stride, length: length, flow: f, configuration)
                lengths[s * configuration.flows + f] = length
            }
        }
    }

    deinit {
        templates.deallocate()
        lengths.deallocate()
    }

    /// Frames produced so far.
    public var framesProduced: Int { produced.load(ordering: .relaxed) }

    /// Whether the count was reached.
    public var isExhausted: Bool {
        guard let count = configuration.count else { return false }
        return produced.load(ordering: .relaxed) >= count
    }

    public func pull(into batch: FrameBatch, limit: Int, now: UInt64) -> Int {
        if start == nil { start = now }
        let done = produced.load(ordering: .relaxed)
        var n = min(limit, batch.capacity - batch.count)
        if let count = configuration.count { n = min(n, count - done) }
        if let rate = configuration.rate {
            let due = Int(Double(now &- start!) * rate / 1e9) + 1
            n = min(n, max(0, due - done))
        }
        guard n > 0 else { return 0 }
        let total = templateCount
        // The position and the batch's frames in locals, the batch's count stored once: no
        // exclusivity check of the stored position and no reload of the batch per frame.
        var index = next
        let frames = batch.refs, first = batch.count
        for k in 0..<n {
            frames[first &+ k] = FrameRef(data: templates + index &* stride, length: lengths[index], timestamp: now)
            index = index &+ 1 == total ? 0 : index &+ 1
        }
        batch.storedCount = first &+ n
        next = index
        produced.add(n, ordering: .relaxed)
        return n
    }

    /// Writes the UDP/IPv4 frame of `flow` with `length` bytes (without CRC) at `p`.
    private static func build(_ p: UnsafeMutableRawPointer, length: Int, flow: Int, _ c: Configuration) {
        memset(p, 0, length)
        c.destination.store(to: p)
        c.source.store(to: p + 6)
        p.storeBytes(of: UInt16(0x0800).bigEndian, toByteOffset: 12, as: UInt16.self)
        let ip = p + 14
        let ipLength = length - 14
        ip.storeBytes(of: 0x45, as: UInt8.self)
        ip.storeBytes(of: UInt16(ipLength).bigEndian, toByteOffset: 2, as: UInt16.self)
        ip.storeBytes(of: 64, toByteOffset: 8, as: UInt8.self)
        ip.storeBytes(of: 17, toByteOffset: 9, as: UInt8.self)
        ip.storeBytes(of: (c.sourceIP &+ UInt32(flow)).bigEndian, toByteOffset: 12, as: UInt32.self)
        ip.storeBytes(of: c.destinationIP.bigEndian, toByteOffset: 16, as: UInt32.self)
        let ipSum = ~UInt16(onesComplementSum(ip, count: 20, initial: 0))
        ip.storeBytes(of: ipSum.bigEndian, toByteOffset: 10, as: UInt16.self)
        let udp = ip + 20
        let udpLength = ipLength - 20
        udp.storeBytes(of: UInt16(1024 + flow % 60000).bigEndian, as: UInt16.self)
        udp.storeBytes(of: UInt16(5001).bigEndian, toByteOffset: 2, as: UInt16.self)
        udp.storeBytes(of: UInt16(udpLength).bigEndian, toByteOffset: 4, as: UInt16.self)
        for i in 8..<udpLength { udp.storeBytes(of: UInt8(truncatingIfNeeded: i), toByteOffset: i, as: UInt8.self) }
        var pseudo = onesComplementSum(ip + 12, count: 8, initial: 0)
        pseudo = fold(pseudo &+ 17 &+ UInt32(udpLength))
        var udpSum = ~UInt16(onesComplementSum(udp, count: udpLength, initial: pseudo))
        if udpSum == 0 { udpSum = 0xFFFF }
        udp.storeBytes(of: udpSum.bigEndian, toByteOffset: 6, as: UInt16.self)
    }
}
