import PMDCore

/// A message of the PF–VF mailbox protocol: its id and the name errors use.
public struct MailboxMessage: Sendable, Equatable, CustomStringConvertible {
    /// Message type (word 0 bits 15:0).
    public let id: UInt32
    /// Name as the datasheet and the drivers spell it.
    public let name: String

    public var description: String { name }

    // VF → PF requests. The messages are the Intel drivers' protocol over the datasheets'
    // mailbox (82599 datasheet §7.10, 82576 datasheet §7.10): ids as Linux ixgbe_mbx.h
    // (IXGBE_VF_*) and e1000_mbx.h (E1000_VF_*) define them; the 82576 VF uses 0x01–0x06.
    /// Resets the VF's PF-side state; the reply carries the permanent MAC.
    public static let reset = MailboxMessage(id: 0x01, name: "RESET")
    /// Sets the VF's unicast address.
    public static let setMACAddress = MailboxMessage(id: 0x02, name: "SET_MAC_ADDR")
    /// Sets up to 30 multicast hash values.
    public static let setMulticast = MailboxMessage(id: 0x03, name: "SET_MULTICAST")
    /// Adds or removes a VLAN filter.
    public static let setVLAN = MailboxMessage(id: 0x04, name: "SET_VLAN")
    /// Sets the largest frame the VF receives.
    public static let setLPE = MailboxMessage(id: 0x05, name: "SET_LPE")
    /// igb only: SET_PROMISC (id 0x06 is SET_MACVLAN on ixgbe).
    public static let setPromisc = MailboxMessage(id: 0x06, name: "SET_PROMISC")
    /// Negotiates the mailbox API version (ixgbe).
    public static let apiNegotiate = MailboxMessage(id: 0x08, name: "API_NEGOTIATE")
    /// Asks how many queues the VF may use (ixgbe, API 1.1+).
    public static let getQueues = MailboxMessage(id: 0x09, name: "GET_QUEUES")
    /// Reads the PF's RSS redirection table (82599/X540, API 1.2+).
    public static let getRETA = MailboxMessage(id: 0x0A, name: "GET_RETA")
    /// Reads the PF's RSS key (82599/X540, API 1.2+).
    public static let getRSSKey = MailboxMessage(id: 0x0B, name: "GET_RSS_KEY")
    /// Sets the multicast/promiscuous mode (ixgbe, API 1.2+).
    public static let updateXcastMode = MailboxMessage(id: 0x0C, name: "UPDATE_XCAST_MODE")
    /// PF → VF ping.
    public static let pfControl = MailboxMessage(id: 0x0100, name: "PF_CONTROL_MSG")
}

/// Bits of the mailbox control register, identical in both families (82599 datasheet §8.3
/// VFMailbox; 82576 datasheet §8.26 V2PMAILBOX).
enum MailboxControlBits {
    /// REQ: the VF posted a message (raises the PF's interrupt).
    static let request: UInt32 = 0x01
    /// ACK: the VF read the PF's message.
    static let acknowledge: UInt32 = 0x02
    /// VFU: the VF holds the buffer.
    static let vfUsesBuffer: UInt32 = 0x04
    /// PFU: the PF holds the buffer.
    static let pfUsesBuffer: UInt32 = 0x08
    /// PFSTS: the PF posted a message.
    static let pfMessage: UInt32 = 0x10
    /// PFACK: the PF read the VF's message.
    static let pfAcknowledged: UInt32 = 0x20
    /// RSTI: the PF is resetting.
    static let pfResetInProgress: UInt32 = 0x40
    /// RSTD: the PF finished a reset.
    static let pfResetDone: UInt32 = 0x80
    /// PFSTS | PFACK | RSTD: cleared by every read of the register.
    static let readToClear: UInt32 = 0xB0
}

/// Bits of word 0 of a message (Linux ixgbe_mbx.h / e1000_mbx.h IXGBE_VT_MSGTYPE_*,
/// IXGBE_VT_MSGINFO_*): type 15:0, MSGINFO 23:16, CTS 29, NACK 30, ACK 31.
enum MessageWord {
    static let ack: UInt32 = 0x8000_0000
    static let nack: UInt32 = 0x4000_0000
    static let clearToSend: UInt32 = 0x2000_0000
    static let infoShift: UInt32 = 16
    /// MSGINFO is 8 bits wide (a count or a flag set).
    static let infoMask: UInt32 = 0xFF
    static let typeMask: UInt32 = 0xFFFF
}

/// The PF's RESET reply: the permanent MAC in words 1–2 (byte 0 in bits 7:0 of word 1), and on
/// ixgbe the multicast filter type in word 3 (the PF's MCSTCTRL.MO, 0…3).
enum ResetReply {
    static let filterTypeWord = 3
    static let filterTypeMask: UInt32 = 0x3
}

/// GET_QUEUES (ixgbe, API 1.1+): the reply's TX and RX queue counts; 0 or more than 8 means 8,
/// the most a VF has.
enum GetQueuesReply {
    static let words = 5
    static let txQueuesWord = 1
    static let rxQueuesWord = 2
    static let queueLimit: UInt32 = 8
}

/// SET_MULTICAST: up to 30 hashes of 16 bits, two per word from word 1; MSGINFO the count.
enum MulticastRequest {
    static let maxHashes = 30
    static let hashesPerWord = 2
    static let hashBits: UInt32 = 16
}

/// igb SET_PROMISC flags in MSGINFO (Linux e1000_mbx.h E1000_VF_SET_PROMISC_*).
enum IgbPromiscuousFlags {
    static let unicast: UInt32 = 0x01
    static let multicast: UInt32 = 0x02
}

/// SET_VLAN: MSGINFO 1 adds the VLAN ID of word 1, 0 removes it.
enum VLANRequest {
    static let add: UInt32 = 1
    static let remove: UInt32 = 0
}

/// GET_RSS_KEY and GET_RETA (82599/X540, API 1.2+): the key's 10 words after word 0; the
/// PF's 128 redirection entries of 2 bits, 16 to a word, in 8 words after word 0.
enum SharedRSSReply {
    static let keyReplyWords = 11
    static let redirectionReplyWords = 9
    static let redirectionEntryBits: UInt32 = 2
    static let redirectionEntriesPerWord = 16
    static let redirectionEntryMask: UInt32 = 0x3
}

/// UPDATE_XCAST_MODE: the reply's word 1 is the mode the PF applied.
enum XcastModeReply {
    static let words = 2
    static let appliedModeWord = 1
}

/// The PF's answer to a request.
struct MailboxReply {
    /// Words of a reply that carries only ACK or NACK in word 0 (SET_LPE, SET_MAC_ADDR,
    /// SET_MULTICAST, SET_VLAN, SET_PROMISC).
    static let statusOnlyWords = 1
    /// The words read back (word 0 carries ACK or NACK).
    var words: [UInt32]
    /// Whether the PF acknowledged (ACK) rather than refused (NACK).
    var acked: Bool { words[0] & MessageWord.ack != 0 }
}

/// The mailbox engine: the legacy transaction of both families (lock, post, wait, read, ACK),
/// with a software shadow of the read-to-clear bits so that no acknowledgement or message is
/// lost between reads (82599 datasheet §7.10 and §8.3 VFMailbox, VFMBMEM; 82576 datasheet
/// §7.10 and §8.26 V2PMAILBOX, VMBMEM).
final class Mailbox {
    /// Polls for PFACK / PFSTS: 2000 × 500 µs = 1 s (VF mailbox timeout).
    static let pollTries = 2000
    static let pollMicroseconds = 500
    /// Bytes between mailbox memory words.
    static let wordStride = 4
    /// Messages a request reads before giving up on its reply (PF pings are skipped).
    static let replyReads = 4

    let function: any PCIFunction
    /// The control registers: the mailbox control register is read-to-clear and partly
    /// read-only, so it is never touched as plain memory.
    let registers: ControlRegisters
    let controlOffset: Int
    let memoryOffset: Int
    /// igb "write posted": wait for PFACK after REQ before waiting for the reply.
    let postWaitsForAck: Bool

    /// Read-to-clear bits seen and not yet consumed.
    private(set) var shadow: UInt32 = 0
    /// RSTI or RSTD was seen since `clearResetSeen()`.
    private(set) var resetSeen = false
    /// A wait timed out since the last reset handshake.
    private(set) var timedOut = false
    /// The PF withdrew clear-to-send (a ping or reply without CTS, or a bare NACK).
    private(set) var lostClearToSend = false
    /// A bare NACK arrived: a Linux PF sends one when the VF acknowledged something while
    /// not clear to send; a DPDK igb PF answers every acknowledgement with one.
    private(set) var bareNACKSeen = false
    /// The control register read all ones: the device is gone.
    private(set) var removed = false

    init(function: any PCIFunction, table: VFFamilyTable) {
        self.function = function
        registers = function.controlRegisters
        controlOffset = table.mailboxControl
        memoryOffset = table.mailboxMemory
        postWaitsForAck = table.postWaitsForAck
    }

    /// Forgets every bit and flag: the software half of a VF reset.
    func resetState() {
        shadow = 0
        resetSeen = false
        timedOut = false
        lostClearToSend = false
        bareNACKSeen = false
    }

    /// Forgets a bare NACK once clear-to-send was confirmed.
    func clearBareNACK() { bareNACKSeen = false }

    /// Reads the control register: returns what is set now or was set and not yet consumed.
    @discardableResult
    func readControl() -> UInt32 {
        let value = registers.read(controlOffset)
        if value == VFFamilyTable.removedDeviceRead {
            removed = true
            return value
        }
        shadow |= value & MailboxControlBits.readToClear
        let seen = value | shadow
        if seen & (MailboxControlBits.pfResetInProgress | MailboxControlBits.pfResetDone) != 0 { resetSeen = true }
        return seen
    }

    /// Whether `bit` is seen; if so it is consumed (removed from the shadow).
    func consume(_ bit: UInt32) -> Bool {
        let seen = readControl()
        guard seen & bit != 0 else { return false }
        shadow &= ~bit
        return true
    }

    /// Waits while the PF reset is in progress or its "done" bit is pending, consuming both
    /// (VF reset handshake, step "wait for RSTI/RSTD"). Returns false on timeout.
    func waitForPFResetToFinish(tries: Int, microseconds: Int) -> Bool {
        let bits = MailboxControlBits.pfResetInProgress | MailboxControlBits.pfResetDone
        for _ in 0..<tries {
            let seen = readControl()
            if removed { return false }
            if seen & bits == 0 { return true }
            shadow &= ~bits
            function.delay(microseconds: microseconds)
        }
        return false
    }

    /// Takes the buffer lock (VFU).
    private func lock() throws(VFDriverError) {
        for _ in 0..<Self.pollTries {
            registers.write(controlOffset, MailboxControlBits.vfUsesBuffer)
            let seen = readControl()
            if removed { throw .deviceRemoved(address: function.address) }
            if seen & MailboxControlBits.vfUsesBuffer != 0 { return }
            function.delay(microseconds: Self.pollMicroseconds)
        }
        throw .mailboxBusy(address: function.address)
    }

    /// Polls until `bit` is seen and consumes it; a PF reset seen meanwhile aborts the wait.
    private func waitFor(_ bit: UInt32, _ message: MailboxMessage) throws(VFDriverError) {
        let resetBits = MailboxControlBits.pfResetInProgress | MailboxControlBits.pfResetDone
        for _ in 0..<Self.pollTries {
            let seen = readControl()
            if removed { throw .deviceRemoved(address: function.address) }
            if seen & resetBits != 0 { throw .pfReset(address: function.address) }
            if seen & bit != 0 {
                shadow &= ~bit
                return
            }
            function.delay(microseconds: Self.pollMicroseconds)
        }
        timedOut = true
        throw .mailboxTimeout(address: function.address, message: message.name)
    }

    /// Posts `words` to the PF (legacy send: lock, flush stale status, write, REQ).
    func post(_ words: [UInt32], _ message: MailboxMessage) throws(VFDriverError) {
        precondition(!words.isEmpty && words.count <= VFFamilyTable.mailboxWords, "a mailbox message has 1 to 16 words")
        try lock()
        shadow &= ~(MailboxControlBits.pfMessage | MailboxControlBits.pfAcknowledged)
        for (i, word) in words.enumerated() { registers.write(memoryOffset + Self.wordStride * i, word) }
        // REQ alone: raises the PF's interrupt and drops VFU.
        registers.write(controlOffset, MailboxControlBits.request)
        driverLog.trace("mailbox \(function.address): sent \(message.name) \(Self.hex(words))")
        if postWaitsForAck { try waitFor(MailboxControlBits.pfAcknowledged, message) }
    }

    /// Reads a message of `count` words from the PF (wait for PFSTS, lock, read, ACK).
    func receive(count: Int, _ message: MailboxMessage) throws(VFDriverError) -> [UInt32] {
        try waitFor(MailboxControlBits.pfMessage, message)
        try lock()
        var words = [UInt32](repeating: 0, count: count)
        for i in 0..<count { words[i] = registers.read(memoryOffset + Self.wordStride * i) }
        // ACK alone: acknowledges and drops VFU.
        registers.write(controlOffset, MailboxControlBits.acknowledge)
        driverLog.trace("mailbox \(function.address): received for \(message.name) \(Self.hex(words))")
        return words
    }

    /// Sends a request (any but RESET, whose reply carries no CTS) and reads its reply. A PF
    /// ping arriving first is noted and skipped.
    func request(_ words: [UInt32], _ message: MailboxMessage, replyWords: Int) throws(VFDriverError) -> MailboxReply {
        try post(words, message)
        for _ in 0..<Self.replyReads {
            let reply = try receive(count: max(replyWords, 1), message)
            let type = reply[0] & MessageWord.typeMask
            if type == MailboxMessage.pfControl.id && reply[0] & (MessageWord.ack | MessageWord.nack) == 0 {
                if reply[0] & MessageWord.clearToSend == 0 { lostClearToSend = true }
                continue
            }
            if reply[0] & MessageWord.clearToSend == 0 && reply[0] & MessageWord.nack != 0 {
                // A NACK without CTS: the PF does not consider this VF clear to send.
                lostClearToSend = true
            }
            return MailboxReply(words: reply)
        }
        throw .mailboxTimeout(address: function.address, message: message.name)
    }

    /// The watchdog's look at the mailbox (VF link check): consumes a pending PF message and
    /// notes a withdrawn clear-to-send. Returns false when the device is gone.
    func pollPFMessages() -> Bool {
        let seen = readControl()
        if removed { return false }
        guard seen & MailboxControlBits.pfMessage != 0 else { return true }
        shadow &= ~MailboxControlBits.pfMessage
        registers.write(controlOffset, MailboxControlBits.vfUsesBuffer)
        guard readControl() & MailboxControlBits.vfUsesBuffer != 0 else { return !removed }
        let word = registers.read(memoryOffset)
        registers.write(controlOffset, MailboxControlBits.acknowledge)
        driverLog.trace("mailbox \(function.address): received unasked \(Self.hex([word]))")
        if word == MessageWord.nack {
            bareNACKSeen = true
        } else if word & MessageWord.clearToSend == 0 {
            lostClearToSend = true
        }
        return true
    }

    // MARK: - Word packing

    /// Words as the trace log shows them: `[0x00000002 0x00000010]`.
    static func hex(_ words: [UInt32]) -> String {
        "[" + words.map { "0x" + String(repeating: "0", count: 8 - String($0, radix: 16).count) + String($0, radix: 16) }
            .joined(separator: " ") + "]"
    }

    /// A MAC address as mailbox words 1–2 (bytes in wire order from bits 7:0 of word 1, as
    /// SET_MAC_ADDR and the RESET reply carry it).
    static func words(for mac: MACAddress) -> [UInt32] {
        let b = mac.array
        return [UInt32(b[0]) | UInt32(b[1]) << 8 | UInt32(b[2]) << 16 | UInt32(b[3]) << 24,
                UInt32(b[4]) | UInt32(b[5]) << 8]
    }

    /// The MAC address held in words 1–2.
    static func mac(from words: [UInt32]) -> MACAddress {
        let a = words[1], b = words[2]
        return MACAddress(UInt8(truncatingIfNeeded: a), UInt8(truncatingIfNeeded: a >> 8),
                          UInt8(truncatingIfNeeded: a >> 16), UInt8(truncatingIfNeeded: a >> 24),
                          UInt8(truncatingIfNeeded: b), UInt8(truncatingIfNeeded: b >> 8))
    }
}
