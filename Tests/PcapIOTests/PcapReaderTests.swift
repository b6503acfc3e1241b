import Foundation
import PMDCore
import Testing
import TestSupport
@testable import PcapIO

@Suite("PcapReader: samples, malformed files, bulk reads")
struct PcapReaderTests {
    @Test("each sample capture reads whole, with the tools agreeing on the count",
          arguments: [("sizes.pcap", 14), ("protocols.pcap", 10), ("jumbo.pcap", 3), ("udp64x256.pcap", 256)])
    func samples(name: String, frames: Int) throws {
        let back = try PcapReader(path: samplePath(name)).readAll()
        #expect(back.count == frames)
        try expectReadableByTools(samplePath(name), frames: frames)
    }

    @Test("sizes.pcap holds the sizes its README lists; jumbo.pcap a 9000-byte frame")
    func sampleContents() throws {
        let sizes = try PcapReader(path: samplePath("sizes.pcap")).readAll().map(\.bytes.count)
        #expect(sizes == [60, 64, 65, 127, 128, 256, 511, 512, 1000, 1024, 1280, 1500, 1513, 1514])
        let jumbo = try PcapReader(path: samplePath("jumbo.pcap")).readAll().map(\.bytes.count)
        #expect(jumbo == [9000, 1514, 9000])
        let protocols = try PcapReader(path: samplePath("protocols.pcap")).readAll()
        #expect(protocols.map(\.bytes.count).filter { $0 < 60 } == [42, 54])
        // Nanosecond file: the fraction of record i is i*1000+7 ns.
        #expect(protocols[3].timestampNanoseconds == 1_767_225_603_000_003_007)
    }

    @Test("each malformed capture of pcaps/bad is one clear error naming the file (and record)",
          arguments: [
            ("truncated-record.pcap", "record 3 is truncated or malformed (truncated dump file; tried to read 100 captured bytes, only got 60); the 2 records before it are whole"),
            ("truncated-header.pcap", "record 2 is truncated or malformed (truncated dump file; tried to read 16 header bytes, only got 7); the 1 record before it is whole"),
            ("bad-magic.pcap", "cannot open capture: unknown file format"),
            ("huge-caplen.pcap", "record 2 is truncated or malformed (invalid packet capture length 2147483632, bigger than snaplen of 262144); the 1 record before it is whole"),
            ("linux-sll.pcap", "link type LINUX_SLL is not Ethernet; vfpmd reads only Ethernet (DLT_EN10MB) captures"),
          ])
    func malformed(name: String, message: String) throws {
        let path = samplePath("bad/" + name)
        var caught: PcapError?
        var framesBefore = 0
        do {
            let reader = try PcapReader(path: path)
            while try reader.next() != nil { framesBefore += 1 }
        } catch {
            caught = error
        }
        #expect(caught?.description == path + ": " + message)
        if name.hasPrefix("truncated-record") { #expect(framesBefore == 2) }
    }

    @Test("a missing file is a clear error")
    func missing() {
        #expect(throws: PcapError.cannotOpen(path: "/nonexistent.pcap", reason: "No such file or directory")) {
            _ = try PcapReader(path: "/nonexistent.pcap")
        }
    }

    @Test("bulk read fills a batch from a pool: bytes, lengths, wall-clock timestamps; pool whole after")
    func bulkRead() throws {
        let pool = try Mempool(name: "test", capacity: 32, dataRoom: 2048, pages: .smallPages)
        let expected = try PcapReader(path: samplePath("sizes.pcap")).readAll()
        let reader = try PcapReader(path: samplePath("sizes.pcap"))
        var got: [PcapFrame] = []
        var flagsOK = true
        do {
            var batch = PacketBatch()
            while true {
                let n = try reader.read(into: &batch, from: pool.ref)
                if n == 0 { break }
                for i in 0..<batch.count {
                    let p = batch[i]
                    flagsOK = flagsOK && p.metadata.pointee.flags.contains(.wallClockTimestamp)
                    got.append(PcapFrame(bytes: Array(UnsafeRawBufferPointer(p.bytes)), timestampNanoseconds: p.metadata.pointee.timestamp))
                }
                batch.removeAll()
            }
        }
        #expect(got == expected)
        #expect(flagsOK)
        #expect(pool.inUse == 0)
    }

    @Test("a frame larger than the pool's buffers is a clear error, not a cut frame")
    func tooLarge() throws {
        let pool = try Mempool(name: "test", capacity: 8, dataRoom: 2048, pages: .smallPages)
        let path = samplePath("jumbo.pcap")
        let reader = try PcapReader(path: path)
        var caught: PcapError?
        do {
            var batch = PacketBatch()
            _ = try reader.read(into: &batch, from: pool.ref)
        } catch {
            caught = error
        }
        #expect(caught == .frameTooLarge(path: path, record: 1, length: 9000, bufferSize: 2048))
        #expect(pool.inUse == 0)
    }
}

@Suite("PacketFilter: tcpdump expressions through libpcap")
struct PacketFilterTests {
    @Test("a filter keeps exactly the frames tcpdump keeps",
          arguments: ["vlan", "arp", "ip6", "udp and not vlan", "ether broadcast", "ether multicast", "tcp[tcpflags] & tcp-syn != 0", "greater 1000"])
    func keepsMatching(expression: String) throws {
        let filter = try PacketFilter(expression: expression)
        let frames = try PcapReader(path: samplePath("protocols.pcap")).readAll()
        let kept = frames.filter { filter.matches($0.bytes) }
        let tcpdump = try runProcess("/usr/bin/tcpdump", ["-ntt", "-r", samplePath("protocols.pcap"), expression])
        let seen = tcpdump.stdout.split(separator: "\n").filter { $0.first?.isNumber == true }
        #expect(kept.count == seen.count)
        #expect(!kept.isEmpty)
        #expect(kept.count < frames.count)
        // Timestamps identify the frames: the same ones.
        let keptSeconds = kept.map { String($0.timestampNanoseconds / 1_000_000_000) }
        #expect(keptSeconds == seen.map { String($0.prefix { $0 != "." }) })
    }

    @Test("an invalid expression is libpcap's error text")
    func invalid() {
        #expect(throws: PcapError.badFilter(expression: "udp port", reason: "can't parse filter expression: syntax error")) {
            _ = try PacketFilter(expression: "udp port")
        }
        #expect(throws: PcapError.badFilter(expression: "ether host zz", reason: "unknown ether host 'zz'")) {
            _ = try PacketFilter(expression: "ether host zz")
        }
    }
}
