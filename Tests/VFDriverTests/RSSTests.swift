import DriverTestSupport
import PMDCore
import Testing
import VFDriver
import VFSimulator

/// Several queue pairs and RSS: the X550 VF's own key and table; the 82599's read from the PF.
struct RSSTests {
    /// 64 UDP flows, 4 frames each, spread over the port's queues.
    func flows(_ n: Int) -> [[UInt8]] {
        var frames: [[UInt8]] = []
        for round in 0..<4 {
            for flow in 0..<n {
                frames.append(udpFrame(to: assignedMAC, length: 90, sequence: round * n + flow,
                                       sourceIP: 0x0A01_0000 | UInt32(flow), sourcePort: UInt16(1000 + flow)))
            }
        }
        return frames
    }

    @Test(arguments: [SimulatedFamily.ixgbeX550, .ixgbe82599])
    func flowsSpreadOverTheQueuesAndStayOnTheirQueue(family: SimulatedFamily) throws {
        let setup = SimulatedSetup(family)
        setup.vf.configurePF { $0.queuesPerPool = 2 }
        var config = VFPortConfiguration.small()
        config.queues = 2
        let port = try setup.open(config)
        #expect(port.queueCount == 2)
        let frames = flows(64)
        var queueOfFlow: [Int: Int] = [:]
        var consistent = true
        var perQueue = [0, 0]
        var hashed = true
        for wave in stride(from: 0, to: frames.count, by: 32) {
            setup.inject(Array(frames[wave..<min(wave + 32, frames.count)]))
            setup.advance(500)
            for q in 0..<2 {
                var batch = PacketBatch()
                _ = port.receive(queue: q, into: &batch)
                batch.forEach { view in
                    let flow = sequenceNumber(Array(UnsafeRawBufferPointer(start: view.data, count: view.length))) % 64
                    if let known = queueOfFlow[flow], known != q { consistent = false }
                    queueOfFlow[flow] = q
                    perQueue[q] += 1
                    if !view.flags.contains(.rssHash) { hashed = false }
                }
            }
        }
        #expect(perQueue[0] + perQueue[1] == frames.count)
        #expect(perQueue[0] > 0 && perQueue[1] > 0)
        #expect(consistent)
        #expect(hashed)
        setup.expectCleanRun()
        closeAndExpectWholePools(port)
    }

    @Test func x550OwnsItsKeyAndTable() throws {
        let setup = SimulatedSetup(.ixgbeX550)
        setup.vf.configurePF { $0.queuesPerPool = 4 }
        var config = VFPortConfiguration.small()
        config.queues = 4
        config.rssKey = (0..<40).map { UInt8(truncatingIfNeeded: $0 &* 13) }
        let port = try setup.open(config)
        try port.start()
        let rss = try port.rssConfiguration()
        #expect(rss.key == config.rssKey)
        #expect(rss.redirection == (0..<64).map { UInt8($0 % 4) })
        // A UDP/IPv4 frame hashes on its addresses (UDP ports are not among the hash fields):
        // the hash in the metadata is the Toeplitz hash under our key, and the queue is the
        // table's entry for its low 6 bits.
        let sourceIP: UInt32 = 0xC0A8_0105, destinationIP: UInt32 = 0x0A00_0002
        let frame = udpFrame(to: assignedMAC, length: 100, sequence: 1, sourceIP: sourceIP, destinationIP: destinationIP)
        let expected = toeplitz(key: config.rssKey!, input: bigEndianBytes(sourceIP) + bigEndianBytes(destinationIP))
        setup.inject([frame])
        setup.advance(500)
        var found: (queue: Int, hash: UInt32, flagged: Bool)?
        for q in 0..<4 {
            var batch = PacketBatch()
            if port.receive(queue: q, into: &batch) == 1 {
                found = (q, batch[0].metadata.pointee.rssHash, batch[0].flags.contains(.rssHash))
            }
        }
        #expect(found?.hash == expected)
        #expect(found?.flagged == true)
        #expect(found?.queue == Int(expected & 63) % 4)
        setup.expectCleanRun()
        closeAndExpectWholePools(port)
    }

    @Test func everyTransmitQueueSends() throws {
        let setup = SimulatedSetup(.ixgbeX550)
        var config = VFPortConfiguration.small()
        config.queues = 2
        let port = try setup.open(config)
        let pool = try transmitPool(for: port)
        let frames = (0..<40).map { udpFrame(to: peerMAC, from: assignedMAC, length: 80, sequence: $0) }
        setup.transmit(port, Array(frames[0..<20]), from: pool, queue: 0)
        setup.transmit(port, Array(frames[20...]), from: pool, queue: 1)
        #expect(setup.sentFrames().map(sequenceNumber).sorted() == Array(0..<40))
        setup.expectCleanRun()
        closeAndExpectWholePools(port, extra: [pool])
    }

    @Test func the82599ReadsThePFsRSSOnlyWhenAllowed() throws {
        let setup = SimulatedSetup(.ixgbe82599)
        let port = try setup.open()
        do {
            _ = try port.rssConfiguration()
            Issue.record("the PF gave its RSS configuration without query_rss")
        } catch let error as VFDriverError {
            guard case .refusedByPF(_, _, .rssQueryDisabled) = error else {
                Issue.record("not refused as a disabled RSS query: \(error)")
                return
            }
        }
        setup.vf.configurePF { $0.rssQueryEnabled = true }
        setup.advance(10)
        let rss = try port.rssConfiguration()
        #expect(rss.key == setup.vf.pfSettings.pfRSSKey)
        // The PF reports each entry as a queue of the VF's pool (2 queues per pool here).
        #expect(rss.redirection == setup.vf.pfSettings.pfRETA.map { $0 & 1 })
        setup.expectCleanRun()
        closeAndExpectWholePools(port)
    }
}

/// The Toeplitz hash of `input` under `key` (RSS, Microsoft's definition).
func toeplitz(key: [UInt8], input: [UInt8]) -> UInt32 {
    var result: UInt32 = 0
    var window = UInt32(key[0]) << 24 | UInt32(key[1]) << 16 | UInt32(key[2]) << 8 | UInt32(key[3])
    for (i, byte) in input.enumerated() {
        for bit in 0..<8 {
            if byte & (0x80 >> bit) != 0 { result ^= window }
            let next = i + 4 < key.count ? key[i + 4] : 0
            window = window << 1 | UInt32((next >> (7 - bit)) & 1)
        }
    }
    return result
}

/// The four bytes of `value`, most significant first.
func bigEndianBytes(_ value: UInt32) -> [UInt8] {
    [UInt8(value >> 24), UInt8(truncatingIfNeeded: value >> 16), UInt8(truncatingIfNeeded: value >> 8), UInt8(truncatingIfNeeded: value)]
}
