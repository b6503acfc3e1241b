import Foundation
import PMDCore
import Testing
import TestSupport
@testable import PcapIO

@Suite("PcapPort: a Port over capture files")
struct PcapPortTests {
    /// Moves everything from `rx` to `tx` as a forwarder would.
    func forward(_ rx: PcapPort, to tx: PcapPort) {
        var batch = PacketBatch()
        while rx.condition == .running || !batch.isEmpty {
            _ = rx.receive(queue: 0, into: &batch)
            _ = tx.transmit(queue: 0, &batch)
        }
    }

    @Test("rx file to tx file is byte-exact with timestamps, for every sample",
          arguments: ["sizes.pcap", "protocols.pcap", "jumbo.pcap", "udp64x256.pcap"])
    func passThrough(name: String) throws {
        let dir = try makeTemporaryDirectory()
        defer { removeDirectory(dir) }
        let out = dir + "/out.pcap"
        let rx = try PcapPort(name: "in", rxPath: samplePath(name), txPath: nil)
        let tx = try PcapPort(name: "out", rxPath: nil, txPath: out)
        try rx.start()
        try tx.start()
        forward(rx, to: tx)
        rx.close()
        tx.close()
        let input = try PcapReader(path: samplePath(name)).readAll()
        #expect(try PcapReader(path: out).readAll() == input)
        #expect(rx.stats.rxPackets == UInt64(input.count))
        #expect(rx.stats.rxBytes == UInt64(input.reduce(0) { $0 + $1.bytes.count }))
        #expect(tx.stats.txPackets == UInt64(input.count))
        #expect(rx.pool?.inUse == 0)
        #expect(rx.failure == nil && tx.failure == nil)
        try expectReadableByTools(out, frames: input.count)
    }

    @Test("loop=3 plays the file three times, then the port is exhausted")
    func loops() throws {
        let dir = try makeTemporaryDirectory()
        defer { removeDirectory(dir) }
        let out = dir + "/out.pcap"
        let rx = try PcapPort(name: "in", rxPath: samplePath("protocols.pcap"), txPath: nil, loop: 3)
        let tx = try PcapPort(name: "out", rxPath: nil, txPath: out)
        try rx.start()
        try tx.start()
        #expect(rx.condition == .running)
        forward(rx, to: tx)
        #expect(rx.condition == .inputExhausted)
        rx.close()
        tx.close()
        let input = try PcapReader(path: samplePath("protocols.pcap")).readAll()
        #expect(try PcapReader(path: out).readAll() == input + input + input)
        #expect(rx.pool?.inUse == 0)
    }

    @Test("a malformed rx file: frames before the bad record arrive, then the error, exhausted")
    func malformedInput() throws {
        let path = samplePath("bad/truncated-record.pcap")
        let rx = try PcapPort(name: "in", rxPath: path, txPath: nil)
        try rx.start()
        var batch = PacketBatch()
        var received = 0
        while rx.condition == .running { received += rx.receive(queue: 0, into: &batch) }
        batch.removeAll()
        rx.close()
        #expect(received == 2)
        #expect(rx.failure?.description.contains("record 3 is truncated") == true)
        #expect(rx.stats.rxErrors == 1)
        #expect(rx.pool?.inUse == 0)
    }

    @Test("opening a non-Ethernet or missing rx file fails at once")
    func badOpen() {
        #expect(throws: PcapError.notEthernet(path: samplePath("bad/linux-sll.pcap"), linkType: "LINUX_SLL")) {
            _ = try PcapPort(name: "x", rxPath: samplePath("bad/linux-sll.pcap"), txPath: nil)
        }
        #expect(throws: PcapError.self) { _ = try PcapPort(name: "x", rxPath: "/nonexistent.pcap", txPath: nil) }
    }

    @Test("transmit with no tx file discards and counts; buffers go back at once")
    func noTxFile() throws {
        let rx = try PcapPort(name: "in", rxPath: samplePath("sizes.pcap"), txPath: nil)
        try rx.start()
        var batch = PacketBatch()
        let n = rx.receive(queue: 0, into: &batch)
        #expect(n == 14)
        let sent = rx.transmit(queue: 0, &batch)
        let emptied = batch.isEmpty
        #expect(sent == 0)
        #expect(emptied)
        rx.updateStats()
        #expect(rx.stats.txErrors == 14)
        #expect(rx.pool?.inUse == 0)
        rx.close()
    }
}
