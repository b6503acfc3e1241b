// The PF–VF mailbox protocol as the simulated PF reads and answers it. The names carry "PF"
// because the driver declares its own view of the same protocol (VFDriver's MailboxMessage,
// MailboxAPI, XcastMode): the simulator is written from the hardware facts, not from the driver.

/// Word 0 flags and message types of mailbox messages, as the PF sees them (82599 datasheet and
/// 82576 datasheet: the PF/VF mailbox; the same format in both families).
public enum PFMailboxMessage {
    /// Reply: success.
    public static let ack: UInt32 = 0x8000_0000
    /// Reply: failure.
    public static let nack: UInt32 = 0x4000_0000
    /// Reply: the VF is clear to send.
    public static let cts: UInt32 = 0x2000_0000
    /// Message type mask and MSGINFO shift/mask.
    public static let typeMask: UInt32 = 0xFFFF, infoShift: UInt32 = 16, infoMask: UInt32 = 0x00FF_0000

    /// VF → PF message types.
    public static let reset: UInt32 = 0x01, setMACAddress: UInt32 = 0x02, setMulticast: UInt32 = 0x03
    public static let setVLAN: UInt32 = 0x04, setLPE: UInt32 = 0x05, setMACVLAN: UInt32 = 0x06
    /// igb: SET_PROMISC (type 6 in the igb protocol).
    public static let igbSetPromisc: UInt32 = 0x06
    public static let apiNegotiate: UInt32 = 0x08, getQueues: UInt32 = 0x09, getRETA: UInt32 = 0x0A
    public static let getRSSKey: UInt32 = 0x0B, updateXcastMode: UInt32 = 0x0C, getLinkState: UInt32 = 0x10
    /// PF → VF control message ("ping").
    public static let pfControl: UInt32 = 0x0100

    /// SET_VLAN: MSGINFO bit 0 adds (else removes); word 1 bits 11:0 hold the VLAN id.
    static let vlanAdd: UInt32 = 0x01, vlanIDMask: UInt32 = 0xFFF
    /// igb SET_MULTICAST: MSGINFO bits 6:0 count the hashes, bit 7 asks for multicast
    /// promiscuous (the VF had more groups than fit).
    static let igbMulticastCountMask: UInt32 = 0x7F, igbMulticastOverflow: UInt32 = 0x80
    /// igb SET_PROMISC: MSGINFO flag for multicast promiscuous (0x01, unicast, is refused).
    static let igbPromiscMulticast: UInt32 = 0x02
    /// ixgbe RESET reply: word 0, the MAC in words 1–2, the multicast filter type in word 3.
    static let ixgbeResetReplyWords = 4
    /// GET_RETA: 128 entries of 2 bits, 16 per word in words 1–8; GET_RSS_KEY: the 40-byte key in
    /// words 1–10, byte 4i + j in bits 8j of word 1 + i.
    static let retaEntriesPerWord = 16, retaWords = 8, retaEntryBits: UInt32 = 2, rssKeyWords = 10
}

/// ixgbe mailbox API versions as they travel in API_NEGOTIATE word 1, as the PF negotiates them.
public enum PFMailboxAPI: UInt32, Sendable, Comparable {
    case v1_0 = 0, v2_0 = 1, v1_1 = 2, v1_2 = 3, v1_3 = 4, v1_4 = 5, v1_5 = 6

    public static func < (a: PFMailboxAPI, b: PFMailboxAPI) -> Bool {
        // 2.0 (Solaris) sorts below 1.1 on the wire but is never accepted by the model.
        a.rawValue < b.rawValue
    }
}

/// UPDATE_XCAST_MODE modes, as the PF applies them.
public enum PFXcastMode: UInt32, Sendable, Comparable {
    case none = 0, multi = 1, allMulti = 2, promiscuous = 3
    public static func < (a: PFXcastMode, b: PFXcastMode) -> Bool { a.rawValue < b.rawValue }
}
