import PMDCore
import Testing
@testable import VFSimulator

/// RSS: the Toeplitz hash against the Microsoft verification suite, and queue selection.
struct RSSTests {
    typealias M = PFMailboxMessage

    static func ipv4(_ a: UInt8, _ b: UInt8, _ c: UInt8, _ d: UInt8) -> [UInt8] { [a, b, c, d] }
    static func port(_ p: UInt16) -> [UInt8] { [UInt8(p >> 8), UInt8(p & 0xFF)] }

    @Test func toeplitzMatchesTheMicrosoftVerificationSuite() {
        let h = RSSHash(key: RSSHash.microsoftKey)
        defer { h.release() }
        // Source 66.9.149.187:2794, destination 161.142.100.80:1766.
        let ips = Self.ipv4(66, 9, 149, 187) + Self.ipv4(161, 142, 100, 80)
        #expect(h.hash(ips) == 0x323E_8FC2)
        #expect(h.hash(ips + Self.port(2794) + Self.port(1766)) == 0x51CC_C178)
        // Source 199.92.111.2:14230, destination 65.69.140.83:4739.
        let ips2 = Self.ipv4(199, 92, 111, 2) + Self.ipv4(65, 69, 140, 83)
        #expect(h.hash(ips2) == 0xD718_262A)
        #expect(h.hash(ips2 + Self.port(14230) + Self.port(4739)) == 0xC626_B0EA)
    }

    /// The hash the receive path should report for a generator frame of `flow`.
    static func expectedHash(flow: Int, withPorts: Bool) -> UInt32 {
        let h = RSSHash(key: RSSHash.microsoftKey)
        defer { h.release() }
        let f = Frames.udp(flow: flow)
        let input = Array(f[26..<34]) + (withPorts ? Array(f[34..<38]) : [])
        return h.hash(input)
    }

    @Test func x550SpreadsFlowsByItsOwnRETA() throws {
        var settings = PFSettings(mac: Rig.mac)
        settings.queuesPerPool = 2
        let rig = Rig(.ixgbeX550, settings: settings)
        rig.bringUp()
        let key = RSSHash.microsoftKey
        for i in 0..<10 {
            let w = UInt32(key[4 * i]) | UInt32(key[4 * i + 1]) << 8 | UInt32(key[4 * i + 2]) << 16 | UInt32(key[4 * i + 3]) << 24
            rig.bar.write(rig.regs.rssKey + 4 * i, w)
        }
        // Entries select queue 1 where the index has a bit set in which the flows' hashes differ.
        let hashes = (0..<16).map { Self.expectedHash(flow: $0, withPorts: true) }
        let bit = (0..<6).first { b in Set(hashes.map { ($0 >> UInt32(b)) & 1 }).count == 2 }!
        let entries = (0..<64).map { UInt32(($0 >> bit) & 1) }
        for i in 0..<16 {
            rig.bar.write(rig.regs.reta + 4 * i, entries[4 * i] | entries[4 * i + 1] << 8 | entries[4 * i + 2] << 16 | entries[4 * i + 3] << 24)
        }
        rig.bar.write(rig.regs.mrqc, 1 | RSSHash.fieldIPv4 | RSSHash.fieldIPv4UDP)
        let q0 = try rig.setUpRX(queue: 0, count: 32)
        let q1 = try rig.setUpRX(queue: 1, count: 32)
        rig.vf.connect(rx: MemorySource(frames: (0..<16).map { Frames.udp(flow: $0) }))
        rig.engine.step()
        var seen = [0, 0]
        for flow in 0..<16 {
            let hash = Self.expectedHash(flow: flow, withPorts: true)
            let q = Int(entries[Int(hash & 63)])
            let ring = q == 0 ? q0 : q1
            let wb = ring.writeBack(seen[q])
            #expect(wb.rss == hash && wb.pktInfo & 0xF == 7, "flow \(flow)")
            seen[q] += 1
        }
        #expect(seen[0] > 0 && seen[1] > 0 && seen[0] + seen[1] == 16)
    }

    @Test func ixgbe82599UsesThePFsKeyAndTableForPSRTYPEQueues() throws {
        var settings = PFSettings(mac: Rig.mac)
        settings.pfRETA = (0..<128).map { UInt8($0 % 2) }
        let rig = Rig(.ixgbe82599, settings: settings)
        rig.bringUp()
        rig.bar.write(rig.regs.psrtype, 1 << 29)  // two queues
        let q0 = try rig.setUpRX(queue: 0, count: 32)
        let q1 = try rig.setUpRX(queue: 1, count: 32)
        rig.vf.connect(rx: MemorySource(frames: (0..<16).map { Frames.udp(flow: $0) }))
        rig.engine.step()
        var seen = [0, 0]
        for flow in 0..<16 {
            // PF default fields hash UDP/IPv4 over the addresses only (RSS type 2).
            let hash = Self.expectedHash(flow: flow, withPorts: false)
            let q = Int(hash & 127) % 2
            let wb = (q == 0 ? q0 : q1).writeBack(seen[q])
            #expect(wb.rss == hash && wb.pktInfo & 0xF == 2)
            seen[q] += 1
        }
        #expect(seen[0] + seen[1] == 16)
        // Without PSRTYPE queues, no hash and one queue.
        rig.bar.write(rig.regs.psrtype, 0)
        rig.vf.connect(rx: MemorySource(frames: [Frames.udp(flow: 1)]))
        rig.engine.step()
        #expect(q0.writeBack(seen[0]).rss == 0 && q0.writeBack(seen[0]).status & AdvancedRxWriteBack.dd != 0)
    }
}
