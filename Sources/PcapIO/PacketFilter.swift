import CPcap
import PMDCore

/// A tcpdump filter expression compiled to BPF for Ethernet frames: libpcap's `pcap_compile`
/// on a dead handle, then `pcap_offline_filter` on each frame.
public final class PacketFilter {
    /// The expression as given.
    public let expression: String
    /// Snap length the program is compiled for.
    public static let snapLength: Int32 = 262_144

    @usableFromInline var program: bpf_program

    /// Compiles `expression`; throws libpcap's error text when it is invalid.
    public init(expression: String) throws(PcapError) {
        guard let handle = pcap_open_dead(DLT_EN10MB, Self.snapLength) else {
            throw .badFilter(expression: expression, reason: "libpcap could not make an Ethernet handle")
        }
        defer { pcap_close(handle) }
        var program = bpf_program()
        guard pcap_compile(handle, &program, expression, 1, PCAP_NETMASK_UNKNOWN) == 0 else {
            throw .badFilter(expression: expression, reason: String(cString: pcap_geterr(handle)))
        }
        self.expression = expression
        self.program = program
    }

    deinit { pcap_freecode(&program) }

    /// Whether the `length`-byte frame at `data` matches.
    @inlinable
    public func matches(_ data: UnsafeRawPointer, length: Int) -> Bool {
        var header = pcap_pkthdr()
        header.caplen = UInt32(truncatingIfNeeded: length)
        header.len = header.caplen
        return pcap_offline_filter(&program, &header, data.assumingMemoryBound(to: UInt8.self)) != 0
    }

    /// Whether `bytes` match.
    public func matches(_ bytes: [UInt8]) -> Bool {
        var copy = bytes
        if copy.isEmpty { copy.append(0) }
        return copy.withUnsafeBytes { matches($0.baseAddress!, length: bytes.count) }
    }
}
