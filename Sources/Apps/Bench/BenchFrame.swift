import PMDCore

/// The frames `vfpmd bench` sends: Ethernet, IPv4, UDP, then a 16-byte probe that the meter
/// reads back: a marker, the flow, a sequence number and the TSC when the frame was sent.
///
///     offset 42  UInt16  marker 0x5646 ("VF")
///     offset 44  UInt16  flow
///     offset 46  UInt32  sequence number within the flow
///     offset 50  UInt64  TX time stamp (TSC ticks)
///
/// Sizes are Ethernet frame sizes as engineers quote them, with the 4-byte FCS the device adds:
/// `--size 64` sends 60 bytes from the buffer.
public enum BenchFrame {
    /// Offset of the probe.
    public static let probeOffset = 42
    /// The probe's marker.
    public static let marker: UInt16 = 0x5646
    /// Smallest frame size (with FCS).
    public static let minimumSize = 64
    /// Bytes a frame occupies on the wire besides its size: preamble, start delimiter, gap.
    public static let layer1Overhead = 20
    /// The FCS the device appends.
    public static let fcs = 4
    /// The simple IMIX: 7 × 64, 4 × 570, 1 × 1518 bytes.
    public static let imix: [Int] = [64, 64, 64, 570, 64, 64, 570, 64, 570, 64, 570, 1518]

    /// Writes a template frame of `size` bytes (with FCS) for `flow` into `buffer`; returns the
    /// number of bytes written (`size - 4`).
    public static func writeTemplate(into buffer: UnsafeMutableRawPointer, size: Int, flow: Int,
                                     source: MACAddress, destination: MACAddress) -> Int {
        let length = size - fcs
        buffer.initializeMemory(as: UInt8.self, repeating: 0, count: length)
        let eth = EthernetHeader(buffer)
        eth.destination = destination
        eth.source = source
        eth.etherType = EtherType.ipv4
        let ip = IPv4Header(buffer + EthernetHeader.length)
        ip.setVersionAndLength()
        ip.totalLength = UInt16(length - EthernetHeader.length)
        ip.identification = UInt16(truncatingIfNeeded: flow)
        ip.ttl = 64
        ip.protocolNumber = 17
        ip.source = 0x0A00_0001                      // 10.0.0.1
        ip.destination = 0x0A01_0000 | UInt32(flow & 0xFFFF)   // 10.1.x.y per flow
        ip.updateChecksum()
        let udp = UDPHeader(buffer + EthernetHeader.length + IPv4Header.minimumLength)
        udp.sourcePort = UInt16(truncatingIfNeeded: 1024 + flow)
        udp.destinationPort = 5001
        udp.length = UInt16(length - EthernetHeader.length - IPv4Header.minimumLength)
        storeBE16(buffer, probeOffset, marker)
        storeBE16(buffer, probeOffset + 2, UInt16(truncatingIfNeeded: flow))
        return length
    }

    /// Stamps the sequence number and the send time into a frame built from a template.
    @inlinable
    public static func stamp(_ frame: UnsafeMutableRawPointer, sequence: UInt32, tsc: UInt64) {
        frame.storeBytes(of: sequence.bigEndian, toByteOffset: probeOffset + 4, as: UInt32.self)
        frame.storeBytes(of: tsc, toByteOffset: probeOffset + 8, as: UInt64.self)
    }

    /// Reads the probe of a received frame: (flow, sequence, send TSC), or nil when the frame is
    /// not one of ours.
    @inlinable
    public static func probe(_ frame: UnsafeRawPointer, length: Int) -> (flow: Int, sequence: UInt32, tsc: UInt64)? {
        guard length >= probeOffset + 16,
              UInt16(bigEndian: frame.loadUnaligned(fromByteOffset: probeOffset, as: UInt16.self)) == marker
        else { return nil }
        let flow = Int(UInt16(bigEndian: frame.loadUnaligned(fromByteOffset: probeOffset + 2, as: UInt16.self)))
        let sequence = UInt32(bigEndian: frame.loadUnaligned(fromByteOffset: probeOffset + 4, as: UInt32.self))
        let tsc = frame.loadUnaligned(fromByteOffset: probeOffset + 8, as: UInt64.self)
        return (flow, sequence, tsc)
    }
}

@inlinable func storeBE16(_ p: UnsafeMutableRawPointer, _ offset: Int, _ v: UInt16) {
    p.storeBytes(of: v.bigEndian, toByteOffset: offset, as: UInt16.self)
}
