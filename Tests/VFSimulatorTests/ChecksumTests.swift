import PMDCore
import Testing
@testable import VFSimulator

/// The model's ones-complement sums (taken eight bytes at a time in machine order) against the
/// definition of RFC 1071, word by word.
struct ChecksumTests {
    /// RFC 1071 §1: big-endian 16-bit words, a last odd byte padded with zero, end-around carries.
    static func reference(_ bytes: ArraySlice<UInt8>, initial: UInt32 = 0) -> UInt32 {
        var sum = initial
        var i = bytes.startIndex
        while i < bytes.endIndex {
            let low = i + 1 < bytes.endIndex ? UInt32(bytes[i + 1]) : 0
            sum += UInt32(bytes[i]) << 8 | low
            sum = (sum & 0xFFFF) + (sum >> 16)
            i += 2
        }
        return sum
    }

    @Test func sumsEveryLengthAlignmentAndInitialValueAsRFC1071Does() {
        let patterns: [[UInt8]] = [
            (0..<96).map { UInt8(truncatingIfNeeded: $0 &* 131 &+ 7) },
            [UInt8](repeating: 0xFF, count: 96),
            [UInt8](repeating: 0, count: 96),
        ]
        for bytes in patterns {
            for offset in 0..<8 {
                for length in 0...(bytes.count - offset) {
                    for initial: UInt32 in [0, 0x1234, 0xFFFF] {
                        let slice = bytes[offset..<(offset + length)]
                        let model = bytes.withUnsafeBytes {
                            onesComplementSum($0.baseAddress! + offset, count: length, initial: initial)
                        }
                        #expect(model == Self.reference(slice, initial: initial), "offset \(offset), length \(length), initial \(initial)")
                    }
                }
            }
        }
    }

    /// A UDP/IPv4 frame with an odd payload (61 bytes), checksums from the reference sum.
    static func oddUDPFrame() -> [UInt8] {
        var f = Frames.udp(size: 64) + [0x5A]
        let ipLength = f.count - 14, udpLength = ipLength - 20
        f[16] = UInt8(ipLength >> 8); f[17] = UInt8(ipLength & 0xFF)
        f[24] = 0; f[25] = 0
        let ipSum = ~UInt16(reference(f[14..<34]))
        f[24] = UInt8(ipSum >> 8); f[25] = UInt8(ipSum & 0xFF)
        f[38] = UInt8(udpLength >> 8); f[39] = UInt8(udpLength & 0xFF)
        f[40] = 0; f[41] = 0
        let pseudo = reference(f[26..<34], initial: 17 + UInt32(udpLength))
        let udpSum = ~UInt16(reference(f[34...], initial: pseudo))
        f[40] = UInt8(udpSum >> 8); f[41] = UInt8(udpSum & 0xFF)
        return f
    }

    @Test func verifiesTheChecksumsOfAnOddLengthFrameAndItsLastByte() {
        let good = Self.oddUDPFrame()
        var bad = good
        bad[bad.count - 1] ^= 0x01
        let verdicts = [good, bad].map { f in f.withUnsafeBytes { parseFrame($0.baseAddress!, length: f.count) } }
        #expect(verdicts[0].ipGood && verdicts[0].l4Checked && verdicts[0].l4Good && verdicts[0].l4Protocol == 17)
        #expect(verdicts[1].ipGood && verdicts[1].l4Checked && !verdicts[1].l4Good)
    }

    /// The 64-byte UDP/IPv4 frame with `options` (a multiple of 4 bytes) in its IPv4 header, the
    /// header checksum from the reference sum (the UDP checksum does not cover the options).
    static func udpFrame(ipOptions options: [UInt8]) -> [UInt8] {
        let plain = Frames.udp(size: 64)
        var f = Array(plain[0..<34]) + options + Array(plain[34...])
        let ihl = 20 + options.count, ipLength = f.count - 14
        f[14] = 0x40 | UInt8(ihl / 4)
        f[16] = UInt8(ipLength >> 8); f[17] = UInt8(ipLength & 0xFF)
        f[24] = 0; f[25] = 0
        let ipSum = ~UInt16(reference(f[14..<(14 + ihl)]))
        f[24] = UInt8(ipSum >> 8); f[25] = UInt8(ipSum & 0xFF)
        return f
    }

    @Test func verifiesAnIPv4HeaderWithOptionsOverItsWholeLength() {
        let good = Self.udpFrame(ipOptions: [0x01, 0x01, 0x07, 0x0B, 0x04, 0, 0, 0, 0, 0, 0, 0x00])
        var badOption = good
        badOption[34 + 5] ^= 0x40  // an option byte: the header sum, not the UDP sum
        let verdicts = [good, badOption].map { f in f.withUnsafeBytes { parseFrame($0.baseAddress!, length: f.count) } }
        #expect(verdicts.allSatisfy { $0.isIPv4 && $0.ipv4Options && $0.ipChecked && $0.l4Good && $0.l4Offset == 14 + 32 })
        #expect(verdicts[0].ipGood && !verdicts[1].ipGood)
        #expect(verdicts[0].ptype == AdvancedRxWriteBack.ptypeIPv4 | AdvancedRxWriteBack.ptypeIPv4Options | AdvancedRxWriteBack.ptypeUDP)
    }
}
