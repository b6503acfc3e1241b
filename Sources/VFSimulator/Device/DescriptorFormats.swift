/// The advanced receive descriptor as the device writes it back: 16 bytes, little endian
/// (82599 datasheet §7.1.6.2, read format §7.1.6.1; 82576 datasheet §7.1, advanced receive
/// descriptors: the same layout with other error bit positions; ixgbevf.md §6.2, igbvf.md §5.1).
///
/// Bytes 0–1 pkt_info (RSS type 3:0, packet type 15:4), 4–7 RSS hash, 8–11 extended
/// status/errors, 12–13 length, 14–15 stripped VLAN tag. Bytes 8–15 overlap the read format's
/// header address, so the device writes them last, as one 64-bit store.
enum AdvancedRxWriteBack {
    /// Extended status: descriptor done, end of packet, VLAN packet, UDP/L4/IPv4 checksum computed.
    static let dd: UInt32 = 0x01, eop: UInt32 = 0x02, vp: UInt32 = 0x08
    static let udpcs: UInt32 = 0x10, l4cs: UInt32 = 0x20, ipcs: UInt32 = 0x40
    /// Error bits: ixgbe TCPE bit 30, IPE bit 31; igb TCPE bit 29, IPE bit 30.
    static let ixgbeTCPE: UInt32 = 0x4000_0000, ixgbeIPE: UInt32 = 0x8000_0000
    static let igbTCPE: UInt32 = 0x2000_0000, igbIPE: UInt32 = 0x4000_0000
    /// Packet type bits of pkt_info: IPv4, IPv4 with options, IPv6, TCP, UDP.
    static let ptypeIPv4: UInt32 = 1 << 4, ptypeIPv4Options: UInt32 = 1 << 5, ptypeIPv6: UInt32 = 1 << 6
    static let ptypeTCP: UInt32 = 1 << 8, ptypeUDP: UInt32 = 1 << 9
    /// RSS types of pkt_info bits 3:0 (0: no hash).
    static let rssTypeIPv4TCP: UInt32 = 1, rssTypeIPv4: UInt32 = 2, rssTypeIPv6TCP: UInt32 = 3
    static let rssTypeIPv6: UInt32 = 5, rssTypeIPv4UDP: UInt32 = 7, rssTypeIPv6UDP: UInt32 = 8

    /// The low 64 bits: pkt_info in bits 15:0, the RSS hash from bit 32.
    static let rssHashShift: UInt64 = 32
    /// Byte offset of the high 64 bits: status/errors in bits 31:0, the length from bit 32, the
    /// VLAN tag from bit 48.
    static let statusOffset = 8
    static let lengthShift: UInt64 = 32, vlanShift: UInt64 = 48
    /// The largest length the 16-bit field holds.
    static let maxLength = 0xFFFF
}

/// The advanced transmit descriptors the device reads: data (DTYP 0011) and context (DTYP
/// 0010), 16 bytes each (82599 datasheet §7.2.3.2.4 data, §7.2.3.2.3 context; X550 datasheet,
/// the same sections; 82576 datasheet §7.2.2, transmit descriptors: a 1-bit context index;
/// ixgbevf.md §6.3–§6.5, igbvf.md §5.2).
///
/// Data: bytes 0–7 buffer address, 8–11 cmd_type_len, 12–15 olinfo_status (the DD write-back
/// lands there too). Context: bytes 0–3 vlan_macip_lens, 8–11 type_tucmd_mlhl, 12–15
/// mss_l4len_idx.
enum AdvancedTxDescriptor {
    /// cmd_type_len: DTYP (bits 23:20) and its data and context values.
    static let dtypShift: UInt32 = 20, dtypMask: UInt32 = 0xF
    static let dtypData: UInt32 = 0x3, dtypContext: UInt32 = 0x2
    /// cmd_type_len: end of packet, report status, advanced format, VLAN insertion.
    static let eop: UInt32 = 1 << 24, rs: UInt32 = 1 << 27, dext: UInt32 = 1 << 29, vle: UInt32 = 1 << 30
    /// cmd_type_len: DTALEN, bytes in this descriptor's buffer.
    static let lengthMask: UInt32 = 0xFFFF
    /// olinfo: check context (ixgbe), context index shift.
    static let cc: UInt32 = 1 << 7
    static let idxShift: UInt32 = 4
    /// Context index mask: ixgbe 3 bits (8 contexts), igb 1 bit (2 contexts).
    static let ixgbeContextIndexMask: UInt32 = 0x7, igbContextIndexMask: UInt32 = 0x1
    /// olinfo POPTS: insert the IPv4 header checksum / the L4 checksum.
    static let ixsm: UInt32 = 1 << 8, txsm: UInt32 = 1 << 9
    /// Context vlan_macip_lens: IPLEN bits 8:0, MACLEN bits 15:9, VLAN tag bits 31:16.
    static let ipLengthMask: UInt32 = 0x1FF, macLengthShift: UInt32 = 9, macLengthMask: UInt32 = 0x7F
    static let contextVLANShift: UInt32 = 16
    /// Context TUCMD: IPv4; L4 type field (bits 12:11: 00 UDP, 01 TCP).
    static let tucmdIPv4: UInt32 = 1 << 10, tucmdL4Shift: UInt32 = 11, tucmdL4Mask: UInt32 = 0x3
    static let l4TypeUDP: UInt32 = 0, l4TypeTCP: UInt32 = 1
    /// Byte offsets: cmd_type_len (data) / type_tucmd_mlhl (context); olinfo_status (data) /
    /// mss_l4len_idx (context), where the DD write-back goes.
    static let commandOffset = 8, statusOffset = 12
    /// Write-back: DD in the status dword.
    static let dd: UInt32 = 1
}

/// Ethernet framing the MACs apply (IEEE 802.3, 802.1Q).
enum EthernetFraming {
    /// Bytes of the frame check sequence, counted in frame sizes and octet statistics but not
    /// delivered (the PF strips it).
    static let crcLength = 4
    /// Bytes of an 802.1Q tag.
    static let vlanTagLength = 4
    /// Shortest frame without CRC: shorter ones are runts (RX) or padded to it (TX).
    static let minimumLength = 60
    /// Bytes of the two MAC addresses before the EtherType or tag.
    static let addressesLength = 12
    /// 802.1Q tag: the VLAN id bits of the TCI.
    static let vlanIDMask: UInt16 = 0xFFF
}
