import PMDCore
import Testing

/// Header views read and write the right bytes.
struct HeaderTests {
    /// A UDP/IPv4 frame in a VLAN tag: dst 02:..:01, src 02:..:02, VLAN 100, 10.0.0.1 → 10.0.0.2, ports 1234 → 5678.
    static let frame: [UInt8] = [
        0x02, 0, 0, 0, 0, 0x01, 0x02, 0, 0, 0, 0, 0x02, 0x81, 0x00, 0x20, 0x64, 0x08, 0x00,
        0x45, 0x00, 0x00, 0x20, 0x12, 0x34, 0x00, 0x00, 0x40, 0x11, 0x00, 0x00,
        10, 0, 0, 1, 10, 0, 0, 2,
        0x04, 0xD2, 0x16, 0x2E, 0x00, 0x0C, 0x00, 0x00, 0xCA, 0xFE, 0xBA, 0xBE,
    ]

    @Test func ethernetVLANIPv4AndUDPFields() {
        var bytes = Self.frame
        bytes.withUnsafeMutableBytes { raw in
            let eth = EthernetHeader(raw.baseAddress!)
            #expect(eth.destination == MACAddress("02:00:00:00:00:01"))
            #expect(eth.source == MACAddress("02:00:00:00:00:02"))
            #expect(eth.etherType == EtherType.vlan)
            let tag = VLANTag(raw.baseAddress! + 12)
            #expect(tag.vlanID == 100 && tag.priority == 1)
            let payload = eth.payload(frameLength: raw.count)!
            #expect(payload.offset == 18 && payload.etherType == EtherType.ipv4)
            let ip = IPv4Header(raw.baseAddress! + payload.offset)
            #expect(ip.version == 4 && ip.headerLength == 20 && ip.totalLength == 32)
            #expect(ip.protocolNumber == 17 && ip.source == 0x0A00_0001 && ip.destination == 0x0A00_0002)
            let udp = UDPHeader(raw.baseAddress! + payload.offset + ip.headerLength)
            #expect(udp.sourcePort == 1234 && udp.destinationPort == 5678 && udp.length == 12)
            udp.destinationPort = 9
            ip.ttl = 63
        }
        #expect(bytes[38 + 2] == 0 && bytes[38 + 3] == 9)
        #expect(bytes[18 + 8] == 63)
    }

    @Test func swapAddressesExchangesTwelveBytesOnly() {
        var bytes = Self.frame
        bytes.withUnsafeMutableBytes { EthernetHeader($0.baseAddress!).swapAddresses() }
        #expect(Array(bytes[0..<6]) == [0x02, 0, 0, 0, 0, 0x02])
        #expect(Array(bytes[6..<12]) == [0x02, 0, 0, 0, 0, 0x01])
        #expect(Array(bytes[12...]) == Array(Self.frame[12...]))
    }

    @Test func ipv4ChecksumMatchesAKnownHeader() {
        // The classic example header: 4500 0073 0000 4000 4011 b861 c0a8 0001 c0a8 00c7.
        var h: [UInt8] = [0x45, 0, 0, 0x73, 0, 0, 0x40, 0, 0x40, 0x11, 0, 0, 0xC0, 0xA8, 0, 1, 0xC0, 0xA8, 0, 0xC7]
        h.withUnsafeMutableBytes { raw in
            let ip = IPv4Header(raw.baseAddress!)
            #expect(ip.computeChecksum() == 0xB861)
            ip.updateChecksum()
        }
        #expect(h[10] == 0xB8 && h[11] == 0x61)
    }

    @Test func truncatedTagsHaveNoPayload() {
        var bytes: [UInt8] = Array(Self.frame[0..<15])
        bytes.withUnsafeMutableBytes { raw in
            #expect(EthernetHeader(raw.baseAddress!).payload(frameLength: raw.count) == nil)
        }
    }

    @Test func macAddressParsingAndFormatting() {
        #expect(MACAddress("aa:bb:cc:dd:ee:ff")?.description == "aa:bb:cc:dd:ee:ff")
        #expect(MACAddress("AA-BB-CC-00-11-22")?.description == "aa:bb:cc:00:11:22")
        #expect(MACAddress("aa:bb:cc:dd:ee") == nil)
        #expect(MACAddress("aa:bb:cc:dd:ee:fg") == nil)
        let r = MACAddress.randomLocal()
        #expect(r.isLocallyAdministered && !r.isMulticast)
        #expect(MACAddress.broadcast.isMulticast)
    }

    @Test func rolloverCountersExtendTo64Bits() {
        var c32 = RolloverCounter(width: 32, initial: 0xFFFF_FFF0)
        c32.update(raw: 0x10)
        #expect(c32.total == 0x20)
        var c36 = RolloverCounter(width: 36, initial: 0xF_FFFF_FF00)
        c36.update(raw: 0x100)
        #expect(c36.total == 0x200)
        c36.update(raw: 0x100)
        #expect(c36.total == 0x200)
    }
}
