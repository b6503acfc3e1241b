import PMDCore

/// A message of the PF–VF mailbox protocol: its id and the name errors use.
public struct MailboxMessage: Sendable, Equatable, CustomStringConvertible {
    /// Message type (word 0 bits 15:0).
    public let id: UInt32
    /// Name as the datasheet and the drivers spell it.
    public let name: String

    public var description: String { name }

    // VF → PF requests (82599 VF mailbox messages; the 82576 VF uses ids 0x01–0x06).
    public static let reset = MailboxMessage(id: 0x01, name: "RESET")
    public static let setMACAddress = MailboxMessage(id: 0x02, name: "SET_MAC_ADDR")
    public static let setMulticast = MailboxMessage(id: 0x03, name: "SET_MULTICAST")
    public static let setVLAN = MailboxMessage(id: 0x04, name: "SET_VLAN")
    public static let setLPE = MailboxMessage(id: 0x05, name: "SET_LPE")
    /// igb only: SET_PROMISC (id 0x06 is SET_MACVLAN on ixgbe).
    public static let setPromisc = MailboxMessage(id: 0x06, name: "SET_PROMISC")
    public static let apiNegotiate = MailboxMessage(id: 0x08, name: "API_NEGOTIATE")
    public static let getQueues = MailboxMessage(id: 0x09, name: "GET_QUEUES")
    public static let getRETA = MailboxMessage(id: 0x0A, name: "GET_RETA")
    public static let getRSSKey = MailboxMessage(id: 0x0B, name: "GET_RSS_KEY")
    public static let updateXcastMode = MailboxMessage(id: 0x0C, name: "UPDATE_XCAST_MODE")
    public static let getLinkState = MailboxMessage(id: 0x10, name: "GET_LINK_STATE")
    /// PF → VF ping.
    public static let pfControl = MailboxMessage(id: 0x0100, name: "PF_CONTROL_MSG")
}

/// Bits of the mailbox control register (VFMAILBOX / V2PMAILBOX): identical in both families.
enum MailboxControlBits {
    static let request: UInt32 = 0x01
    static let acknowledge: UInt32 = 0x02
    static let vfUsesBuffer: UInt32 = 0x04
    static let pfUsesBuffer: UInt32 = 0x08
    static let pfMessage: UInt32 = 0x10
    static let pfAcknowledged: UInt32 = 0x20
    static let pfResetInProgress: UInt32 = 0x40
    static let pfResetDone: UInt32 = 0x80
    /// PFSTS | PFACK | RSTD: cleared by every read of the register.
    static let readToClear: UInt32 = 0xB0
}

/// Bits of word 0 of a message.
enum MessageWord {
    static let ack: UInt32 = 0x8000_0000
    static let nack: UInt32 = 0x4000_0000
    static let clearToSend: UInt32 = 0x2000_0000
    static let infoShift: UInt32 = 16
    static let typeMask: UInt32 = 0xFFFF
}

/// The PF's answer to a request.
struct MailboxReply {
    /// The words read back (word 0 carries ACK or NACK).
    var words: [UInt32]
    /// Whether the PF acknowledged (ACK) rather than refused (NACK).
    var acked: Bool { words[0] & MessageWord.ack != 0 }
}

/// The mailbox engine: the legacy transaction of both families (lock, post, wait, read, ACK),
/// with a software shadow of the read-to-clear bits so that no acknowledgement or message is
/// lost between reads (82599 VF mailbox, "VFMAILBOX" and the read-to-clear bits).
final class Mailbox {
    /// Polls for PFACK / PFSTS: 2000 × 500 µs = 1 s (VF mailbox timeout).
    static let pollTries = 2000
    static let pollMicroseconds = 500

    let function: any PCIFunction
    let window: RegisterWindow
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
    /// The control register read all ones: the device is gone.
    private(set) var removed = false

    init(function: any PCIFunction, table: VFFamilyTable) {
        self.function = function
        window = function.bar0
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
    }

    /// Reads the control register: returns what is set now or was set and not yet consumed.
    @discardableResult
    func readControl() -> UInt32 {
        let value = window.read(controlOffset)
        if value == 0xFFFF_FFFF {
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
            window.write(controlOffset, MailboxControlBits.vfUsesBuffer)
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
        precondition(!words.isEmpty && words.count <= 16, "a mailbox message has 1 to 16 words")
        try lock()
        shadow &= ~(MailboxControlBits.pfMessage | MailboxControlBits.pfAcknowledged)
        for (i, word) in words.enumerated() { window.write(memoryOffset + 4 * i, word) }
        // REQ alone: raises the PF's interrupt and drops VFU.
        window.write(controlOffset, MailboxControlBits.request)
        if postWaitsForAck { try waitFor(MailboxControlBits.pfAcknowledged, message) }
    }

    /// Reads a message of `count` words from the PF (wait for PFSTS, lock, read, ACK).
    func receive(count: Int, _ message: MailboxMessage) throws(VFDriverError) -> [UInt32] {
        try waitFor(MailboxControlBits.pfMessage, message)
        try lock()
        var words = [UInt32](repeating: 0, count: count)
        for i in 0..<count { words[i] = window.read(memoryOffset + 4 * i) }
        // ACK alone: acknowledges and drops VFU.
        window.write(controlOffset, MailboxControlBits.acknowledge)
        return words
    }

    /// Sends a request (any but RESET, whose reply carries no CTS) and reads its reply. A PF
    /// ping arriving first is noted and skipped.
    func request(_ words: [UInt32], _ message: MailboxMessage, replyWords: Int) throws(VFDriverError) -> MailboxReply {
        try post(words, message)
        for _ in 0..<4 {
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
        window.write(controlOffset, MailboxControlBits.vfUsesBuffer)
        guard readControl() & MailboxControlBits.vfUsesBuffer != 0 else { return !removed }
        let word = window.read(memoryOffset)
        window.write(controlOffset, MailboxControlBits.acknowledge)
        if word & MessageWord.clearToSend == 0 { lostClearToSend = true }
        return true
    }

    // MARK: - Word packing

    /// A MAC address as mailbox words 1–2 (bytes in wire order from byte 0 of word 1).
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
