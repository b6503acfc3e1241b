import DriverTestSupport
import PMDCore
import Testing
import VFDriver
import VFSimulator

/// Transmit: bytes on the wire, ring full, buffers back to their own pools, offloads.
struct TxTests {
    @Test(arguments: allFamilies)
    func framesLeaveByteExact(family: SimulatedFamily) throws {
        let setup = SimulatedSetup(family)
        let port = try setup.open()
        let pool = try transmitPool(for: port)
        var g = SystemRandomNumberGenerator()
        let frames = (0..<400).map {
            udpFrame(to: peerMAC, from: assignedMAC, length: Int.random(in: 60...1514, using: &g), sequence: $0)
        }
        #expect(setup.transmit(port, frames, from: pool) == frames.count)
        #expect(difference(setup.sentFrames(), frames) == nil)
        port.reclaimTransmitted(queue: 0)
        port.updateStats()
        #expect(port.stats.txPackets == UInt64(frames.count))
        #expect(port.stats.txBytes >= UInt64(frames.reduce(0) { $0 + $1.count }))
        setup.expectCleanRun()
        closeAndExpectWholePools(port, extra: [pool])
    }

    @Test func aFullRingLeavesTheRestInTheBatch() throws {
        let setup = SimulatedSetup(.ixgbeX550)
        let port = try setup.open(.small(tx: 64))
        let pool = try transmitPool(for: port)
        setup.vf.inject(.txStall(true))
        setup.advance(10)
        var sent = 0
        var made = 0
        var batch = PacketBatch(pool: pool.ref)
        for _ in 0..<3 {
            batch.compact()
            while batch.freeCapacity > 0 {
                guard let p = Packet(from: pool.ref) else {
                    Issue.record("test pool ran dry")
                    return
                }
                let frame = udpFrame(to: peerMAC, from: assignedMAC, length: 60, sequence: made)
                made += 1
                frame.withUnsafeBytes { p.data.copyMemory(from: $0.baseAddress!, byteCount: 60) }
                p.length = 60
                _ = batch.append(p)
            }
            sent += port.transmit(queue: 0, &batch)
        }
        // 63 usable slots; the ixgbe VF's default context descriptor takes one. The first
        // batch of 64 leaves 2; refilled to 64, nothing more fits.
        #expect(sent == 62)
        let left = batch.count
        #expect(left == 64 && made == 126)
        #expect(port.txCounters(queue: 0).ringFull >= 1)
        // The device resumes: the ring drains, the rest goes out.
        setup.vf.inject(.txStall(false))
        setup.advance(1000)
        var more = 0
        for _ in 0..<20 where !batch.isEmpty {
            more += port.transmit(queue: 0, &batch)
            setup.advance(500)
        }
        let drained = batch.isEmpty
        #expect(drained)
        #expect(sent + more == made)
        #expect(setup.sentFrames().map(sequenceNumber) == Array(0..<made))
        setup.expectCleanRun()
        closeAndExpectWholePools(port, extra: [pool])
    }

    @Test func buffersReturnToTheirOwnPools() throws {
        let setup = SimulatedSetup(.igb82576)
        let port = try setup.open()
        let a = try transmitPool(for: port, capacity: 256)
        let b = try transmitPool(for: port, capacity: 256)
        let frames = (0..<100).map { udpFrame(to: peerMAC, from: assignedMAC, length: 80, sequence: $0) }
        setup.transmit(port, Array(frames[0..<50]), from: a)
        setup.transmit(port, Array(frames[50...]), from: b)
        #expect(difference(setup.sentFrames(), frames) == nil)
        port.reclaimTransmitted(queue: 0)
        #expect(a.available == a.capacity && b.available == b.capacity)
        setup.expectCleanRun()
        closeAndExpectWholePools(port, extra: [a, b])
    }

    @Test(arguments: allFamilies)
    func vlanTagsAreInserted(family: SimulatedFamily) throws {
        let setup = SimulatedSetup(family)
        let port = try setup.open()
        let pool = try transmitPool(for: port)
        let frame = udpFrame(to: peerMAC, from: assignedMAC, length: 100, sequence: 3)
        setup.transmit(port, [frame], from: pool, flags: .insertVLAN, vlanTCI: 0x0123)
        let tagged = udpFrame(to: peerMAC, from: assignedMAC, length: 104, sequence: 3, vlan: 0x0123)
        let sent = setup.sentFrames()
        #expect(sent.count == 1)
        #expect(sent.first.map { Array($0[0..<18]) } == Array(tagged[0..<18]))
        #expect(sent.first.map { Array($0[18...]) } == Array(frame[14...]))
        #expect(port.txCounters(queue: 0).contexts >= 1)
        setup.expectCleanRun()
        closeAndExpectWholePools(port, extra: [pool])
    }

    @Test func forwardingBetweenTwoVFsMovesTheSameBuffers() throws {
        let setup = SimulatedSetup(.ixgbeX550)
        let other = SimulatedVF(family: .ixgbeX550, container: setup.container, engine: setup.engine,
                                settings: PFSettings(mac: peerMAC))
        let out = FrameQueue(capacity: 4096)
        other.connect(tx: out)
        let a = try setup.open()
        let b = try VFPort(function: other, configuration: .small())
        try b.start()
        // Same container: the RX pool of `a` is already mapped for `b`.
        try b.mapForTransmit(a.rxPools[0])
        let frames = (0..<200).map { udpFrame(to: assignedMAC, length: 64 + $0, sequence: $0) }
        var forwarded = 0
        for round in 0..<400 where forwarded < frames.count {
            if round % 10 == 0 && round / 10 * 20 < frames.count {
                setup.inject(Array(frames[round / 10 * 20..<round / 10 * 20 + 20]))
            }
            var batch = PacketBatch()
            _ = a.receive(queue: 0, into: &batch)
            batch.forEach { EthernetHeader($0.data).source = peerMAC }
            while !batch.isEmpty {
                forwarded += b.transmit(queue: 0, &batch)
                setup.advance(20)
            }
            setup.advance(50)
        }
        #expect(forwarded == frames.count)
        var wire: [[UInt8]] = []
        let fb = FrameBatch(capacity: 64, slotSize: 16_384)
        while true {
            fb.removeAll()
            let n = out.pull(into: fb, limit: 64, now: 0)
            if n == 0 { break }
            for i in 0..<n { wire.append(fb[i].bytes) }
        }
        #expect(wire.count == frames.count)
        #expect(difference(wire.map { Array($0[12...]) }, frames.map { Array($0[12...]) }) == nil)
        setup.expectCleanRun()
        #expect(other.violations.isEmpty)
        b.close()
        closeAndExpectWholePools(a)
    }
}

/// Checksum offload: the driver asks for it in a context descriptor and the data descriptor's
/// POPTS; the device fills in the IPv4 header and UDP checksums.
struct TxChecksumOffloadTests {
    /// The ones'-complement sum of 16-bit big-endian words.
    static func sum(_ bytes: ArraySlice<UInt8>, initial: UInt32 = 0) -> UInt32 {
        var s = initial
        var i = bytes.startIndex
        while i + 1 < bytes.endIndex { s += UInt32(bytes[i]) << 8 | UInt32(bytes[i + 1]); i += 2 }
        if i < bytes.endIndex { s += UInt32(bytes[i]) << 8 }
        while s > 0xFFFF { s = (s & 0xFFFF) + (s >> 16) }
        return s
    }

    @Test(arguments: allFamilies)
    func ipv4AndUDPChecksumsAreFilledIn(family: SimulatedFamily) throws {
        let setup = SimulatedSetup(family)
        let port = try setup.open()
        let pool = try transmitPool(for: port)
        let frames = (0..<20).map { n -> [UInt8] in
            var f = udpFrame(to: peerMAC, from: assignedMAC, length: 100 + n, sequence: n)
            f[24] = 0; f[25] = 0   // IPv4 header checksum
            f[40] = 0; f[41] = 0   // UDP checksum
            return f
        }
        #expect(setup.transmit(port, frames, from: pool, flags: [.offloadIPChecksum, .offloadL4Checksum]) == frames.count)
        let sent = setup.sentFrames()
        #expect(sent.count == frames.count)
        for f in sent {
            // A header with a correct checksum sums to 0xFFFF.
            #expect(Self.sum(f[14..<34]) == 0xFFFF)
            // UDP over the pseudo-header (addresses, protocol, UDP length) and the segment.
            let udpLength = Int(f[38]) << 8 | Int(f[39])
            var pseudo = Self.sum(f[26..<34])
            pseudo += 17 + UInt32(udpLength)
            #expect(Self.sum(f[34..<(34 + udpLength)], initial: pseudo) == 0xFFFF)
            #expect(f[40] != 0 || f[41] != 0)
        }
        setup.expectCleanRun()
        closeAndExpectWholePools(port, extra: [pool])
    }
}
