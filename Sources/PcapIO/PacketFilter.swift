import CPcap
import PMDCore

/// A tcpdump filter expression compiled to BPF for Ethernet frames: libpcap's `pcap_compile`
/// on a dead handle, then `pcap_offline_filter` on each frame.
///
/// A frame whose VLAN tag a port stripped is matched as it was on the wire: it is copied with
/// its tag into a buffer of the filter's own (`matches(_:length:restoring:)`), so only such
/// frames pay for a copy. That buffer makes a filter usable by one thread at a time.
public final class PacketFilter {
    /// The expression as given.
    public let expression: String
    /// Snap length the program is compiled for.
    public static let snapLength: Int32 = 262_144
    /// Bytes of a frame with a restored tag the filter sees: every frame a descriptor can
    /// carry (16-bit length) with its tag; beyond that the filter sees a frame cut there, as
    /// it sees a capture cut by its snap length.
    public static let restoredFrameCapacity = 65_536 + 4

    @usableFromInline let program: UnsafeMutablePointer<bpf_program>
    /// Where a frame is rebuilt with its restored tag; `restoredFrameCapacity` bytes.
    @usableFromInline let restoredFrame: UnsafeMutableRawPointer
    @usableFromInline let restoredCapacity: Int

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
        self.program = .allocate(capacity: 1)
        self.program.initialize(to: program)
        restoredCapacity = Self.restoredFrameCapacity
        restoredFrame = .allocate(byteCount: restoredCapacity, alignment: 64)
    }

    deinit {
        pcap_freecode(program)
        program.deallocate()
        restoredFrame.deallocate()
    }

    /// Whether the `length`-byte frame at `data` matches.
    @inlinable
    public func matches(_ data: UnsafeRawPointer, length: Int) -> Bool {
        var header = pcap_pkthdr()
        header.caplen = UInt32(truncatingIfNeeded: length)
        header.len = header.caplen
        return pcap_offline_filter(program, &header, data.assumingMemoryBound(to: UInt8.self)) != 0
    }

    /// Whether the `length`-byte frame at `data` matches once `tag` is put back after its
    /// addresses (the frame a port received before it stripped the tag). The frame's buffer is
    /// only read; a frame too short to hold addresses is matched as it is.
    @inlinable
    public func matches(_ data: UnsafeRawPointer, length: Int, restoring tag: RestoredVLANTag) -> Bool {
        guard RestoredVLANTag.fits(frameLength: length) else { return matches(data, length: length) }
        let addresses = RestoredVLANTag.addressesLength
        let framePrefix = addresses &+ RestoredVLANTag.length
        let restoredLength = length &+ RestoredVLANTag.length
        // Bounded by the buffer: at most restoredCapacity bytes, of which the rest comes
        // from within the frame's `length` bytes.
        let copied = restoredLength < restoredCapacity ? restoredLength : restoredCapacity
        restoredFrame.copyMemory(from: data, byteCount: addresses)
        restoredFrame.storeBytes(of: tag.bytes, toByteOffset: addresses, as: UInt32.self)
        (restoredFrame + framePrefix).copyMemory(from: data + addresses, byteCount: copied &- framePrefix)
        var header = pcap_pkthdr()
        header.caplen = UInt32(truncatingIfNeeded: copied)
        header.len = UInt32(truncatingIfNeeded: restoredLength)
        return pcap_offline_filter(program, &header, restoredFrame.assumingMemoryBound(to: UInt8.self)) != 0
    }

    /// Whether `bytes` match.
    public func matches(_ bytes: [UInt8]) -> Bool {
        var copy = bytes
        if copy.isEmpty { copy.append(0) }
        return copy.withUnsafeBytes { matches($0.baseAddress!, length: bytes.count) }
    }
}
