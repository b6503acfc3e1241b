// The simulated VF on a stepped engine that the driver and reliability tests share.
import PMDCore
import Testing
import VFDriver
import VFSimulator

/// The MAC address the simulated PF assigns in most tests.
public let assignedMAC = MACAddress(0x02, 0x00, 0x5E, 0x10, 0x00, 0x01)
/// A peer on the wire.
public let peerMAC = MACAddress(0x02, 0x00, 0x5E, 0x20, 0x00, 0x02)

/// The three simulated models the driver is tested against.
public let allFamilies: [SimulatedFamily] = [.ixgbe82599, .ixgbeX550, .igb82576]

extension VFPortConfiguration {
    /// Small rings and pools on 4 KiB pages: fast tests.
    public static func small(rx: Int = 128, tx: Int = 128, pool: Int = 512) -> VFPortConfiguration {
        var c = VFPortConfiguration()
        c.rxDescriptors = rx
        c.txDescriptors = tx
        c.poolSize = pool
        c.pages = .smallPages
        return c
    }
}

/// A simulated VF on a stepped engine with an in-memory wire in each direction, and helpers
/// to move frames through a port opened on it.
public final class SimulatedSetup {
    public let engine = SimulationEngine(mode: .stepped)
    public let container: SimulatedContainer
    public let vf: SimulatedVF
    /// Frames arriving at the VF.
    public let wire = FrameQueue(capacity: 16_384)
    /// Frames the VF sent.
    public let sink = FrameQueue(capacity: 16_384)

    /// The VF of `family` in `container` (one that models a bus without IOMMU, if given).
    public init(_ family: SimulatedFamily, settings: PFSettings = PFSettings(mac: assignedMAC),
                container: SimulatedContainer = SimulatedContainer()) {
        self.container = container
        vf = SimulatedVF(family: family, container: container, engine: engine, settings: settings)
        vf.connect(rx: wire, tx: sink)
    }

    /// Opens (and by default starts) a port on the VF.
    public func open(_ configuration: VFPortConfiguration = .small(), start: Bool = true) throws -> VFPort {
        let port = try VFPort(function: vf, configuration: configuration)
        if start { try port.start() }
        return port
    }

    /// Runs the model for `microseconds` of simulated time.
    public func advance(_ microseconds: Int = 200) { engine.advance(microseconds: microseconds) }

    /// Puts frames on the wire towards the VF.
    public func inject(_ frames: [[UInt8]]) {
        for f in frames {
            let ok = f.withUnsafeBytes { wire.enqueue($0.baseAddress!, length: f.count, timestamp: 0) }
            precondition(ok, "test wire full")
        }
    }

    /// Puts `frames` on the wire in waves of at most `wave` (fewer than the ring's free
    /// descriptors, so that the device has room for each) and receives them on `queue`.
    public func deliver(_ frames: [[UInt8]], to port: VFPort, queue: Int = 0, wave: Int = 32,
                 inspect: ((PacketView) -> Void)? = nil) -> [[UInt8]] {
        var received: [[UInt8]] = []
        var start = 0
        while start < frames.count {
            let end = min(start + wave, frames.count)
            inject(Array(frames[start..<end]))
            received += receive(port, count: end - start, queue: queue, inspect: inspect)
            start = end
        }
        return received
    }

    /// Every frame the VF has sent so far.
    public func sentFrames() -> [[UInt8]] {
        var out: [[UInt8]] = []
        let batch = FrameBatch(capacity: 64, slotSize: 16_384)
        while true {
            batch.removeAll()
            let n = sink.pull(into: batch, limit: 64, now: engine.now)
            if n == 0 { break }
            for i in 0..<n { out.append(batch[i].bytes) }
        }
        return out
    }

    /// Receives until `count` frames arrived on `queue` or the model stops delivering; returns
    /// their bytes (and frees the buffers); `inspect` sees each packet before it is freed.
    public func receive(_ port: VFPort, count: Int, queue: Int = 0, inspect: ((PacketView) -> Void)? = nil) -> [[UInt8]] {
        var frames: [[UInt8]] = []
        var idle = 0
        while frames.count < count && idle < 200 {
            var batch = PacketBatch()
            let n = port.receive(queue: queue, into: &batch)
            if n == 0 {
                idle += 1
                advance(50)
                continue
            }
            idle = 0
            for i in 0..<batch.count {
                let view = batch[i]
                frames.append(Array(UnsafeRawBufferPointer(start: view.data, count: view.length)))
                inspect?(view)
            }
        }
        return frames
    }

    /// Sends `frames` on `queue` from `pool`, stepping the model while the ring is full.
    /// Returns how many were sent.
    @discardableResult
    public func transmit(_ port: VFPort, _ frames: [[UInt8]], from pool: Mempool, queue: Int = 0,
                  flags: PacketFlags = [], vlanTCI: UInt16 = 0) -> Int {
        var sent = 0
        var next = 0
        var stuck = 0
        var batch = PacketBatch(pool: pool.ref)
        while (next < frames.count || !batch.isEmpty) && stuck < 200 {
            batch.compact()
            while next < frames.count && batch.freeCapacity > 0 {
                guard let packet = Packet(from: pool.ref) else { break }
                let frame = frames[next]
                frame.withUnsafeBytes { packet.data.copyMemory(from: $0.baseAddress!, byteCount: frame.count) }
                packet.length = frame.count
                packet.metadata.pointee.flags = flags
                packet.metadata.pointee.vlanTCI = vlanTCI
                _ = batch.append(packet)
                next += 1
            }
            let n = port.transmit(queue: queue, &batch)
            sent += n
            stuck = n == 0 ? stuck + 1 : 0
            advance(50)
        }
        advance(500)
        return sent
    }

    /// The checks every normal test ends with: no IOMMU fault, no protocol violation.
    public func expectCleanRun(sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(container.faults.isEmpty, "IOMMU faults: \(container.faults)", sourceLocation: sourceLocation)
        #expect(vf.violations.isEmpty, "protocol violations: \(vf.violations)", sourceLocation: sourceLocation)
        #expect(vf.dmaFaults == 0, sourceLocation: sourceLocation)
    }
}

/// Closes `port` and checks that every pool is whole.
public func closeAndExpectWholePools(_ port: VFPort, extra: [Mempool] = [], sourceLocation: SourceLocation = #_sourceLocation) {
    port.close()
    for pool in port.rxPools + extra {
        #expect(pool.available == pool.capacity, "pool \(pool.name): \(pool.inUse) buffers not returned", sourceLocation: sourceLocation)
        #expect(pool.doubleFrees == 0, "pool \(pool.name): \(pool.doubleFrees) double returns", sourceLocation: sourceLocation)
    }
}

/// A pool for frames the test transmits, mapped for `port`.
public func transmitPool(for port: VFPort, capacity: Int = 1024, dataRoom: Int = 2048) throws -> Mempool {
    let pool = try Mempool(name: "test tx", capacity: capacity, dataRoom: dataRoom, pages: .smallPages)
    try port.mapForTransmit(pool)
    return pool
}

/// Builds an Ethernet/IPv4/UDP frame of `length` bytes (without CRC) with a sequence number
/// and a payload pattern; `vlan` adds an 802.1Q tag.
public func udpFrame(to destination: MACAddress, from source: MACAddress = peerMAC, length: Int, sequence: Int,
              vlan: UInt16? = nil, sourceIP: UInt32 = 0x0A00_0001, destinationIP: UInt32 = 0x0A00_0002,
              sourcePort: UInt16 = 1234, destinationPort: UInt16 = 5678) -> [UInt8] {
    var f = [UInt8](repeating: 0, count: length)
    f.withUnsafeMutableBytes { raw in
        let p = raw.baseAddress!
        let eth = EthernetHeader(p)
        eth.destination = destination
        eth.source = source
        var l3 = 14
        if let vlan {
            eth.etherType = EtherType.vlan
            let tag = VLANTag(p + 12)
            tag.tci = vlan
            p.storeBytes(of: EtherType.ipv4.bigEndian, toByteOffset: 16, as: UInt16.self)
            l3 = 18
        } else {
            eth.etherType = EtherType.ipv4
        }
        let ip = IPv4Header(p + l3)
        ip.setVersionAndLength()
        ip.totalLength = UInt16(length - l3)
        ip.identification = UInt16(truncatingIfNeeded: sequence)
        ip.ttl = 64
        ip.protocolNumber = 17
        ip.source = sourceIP
        ip.destination = destinationIP
        ip.checksum = 0
        ip.checksum = ip.computeChecksum()
        let udp = p + l3 + 20
        udp.storeBytes(of: sourcePort.bigEndian, as: UInt16.self)
        udp.storeBytes(of: destinationPort.bigEndian, toByteOffset: 2, as: UInt16.self)
        udp.storeBytes(of: UInt16(length - l3 - 20).bigEndian, toByteOffset: 4, as: UInt16.self)
        // Sequence number, then a pattern.
        udp.storeBytes(of: UInt32(truncatingIfNeeded: sequence).bigEndian, toByteOffset: 8, as: UInt32.self)
        var i = l3 + 32
        while i < length {
            p.storeBytes(of: UInt8(truncatingIfNeeded: i &* 7 &+ sequence), toByteOffset: i, as: UInt8.self)
            i += 1
        }
    }
    return f
}

/// The sequence number `udpFrame` put in an untagged frame.
public func sequenceNumber(_ frame: [UInt8]) -> Int {
    Int(frame[42]) << 24 | Int(frame[43]) << 16 | Int(frame[44]) << 8 | Int(frame[45])
}

/// nil when `got` equals `want` frame for frame; else a short description of the first difference.
public func difference(_ got: [[UInt8]], _ want: [[UInt8]]) -> String? {
    if got == want { return nil }
    guard got.count == want.count else { return "\(got.count) frames instead of \(want.count)" }
    for (i, (g, w)) in zip(got, want).enumerated() where g != w {
        let at = (0..<min(g.count, w.count)).first { g[$0] != w[$0] } ?? min(g.count, w.count)
        return "frame \(i): \(g.count) bytes instead of \(w.count), first difference at byte \(at)"
    }
    return nil
}
