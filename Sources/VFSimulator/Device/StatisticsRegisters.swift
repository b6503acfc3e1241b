/// The VF statistics registers a test can observe and preset.
public enum StatisticRegister: Sendable, CaseIterable {
    /// Good packets received (32 bit).
    case rxPackets
    /// Good octets received (36 bit LSB/MSB on ixgbe, 32 bit on igb).
    case rxOctets
    /// Good packets transmitted (32 bit).
    case txPackets
    /// Good octets transmitted (36 bit on ixgbe, 32 bit on igb).
    case txOctets
    /// Multicast packets received (32 bit).
    case rxMulticast
}

/// The model's statistics counters with the hardware widths: they count up, wrap at their
/// width, are not cleared on read, and restart from 0 at a VF reset (the Linux ixgbevf driver
/// keeps "saved_reset" values for that reason). Octet counters include the 4-byte CRC of each
/// frame, as the receive and transmit MACs count the wire frame.
///
/// Registers: 82599/X550 VFGPRC, VFGPTC, VFMPRC (32 bit) and VFGORC, VFGOTC (36 bit: LSB
/// register, low 4 bits of the MSB register) (82599 datasheet, VF statistics registers;
/// ixgbevf.md §3.6); 82576 VFGPRC, VFGPTC, VFGORC, VFGOTC, VFMPRC, all 32 bit (82576 datasheet,
/// VF statistics registers; igbvf.md §3.4).
struct StatisticsRegisters {
    var rxPackets: UInt64 = 0
    var rxOctets: UInt64 = 0
    var txPackets: UInt64 = 0
    var txOctets: UInt64 = 0
    var rxMulticast: UInt64 = 0

    /// The octet counters' wrap mask, from their width (stored: the counting paths use it per
    /// frame).
    let octetMask: UInt64

    init(family: SimulatedFamily) {
        octetMask = (1 << (family.isIxgbe ? Self.ixgbeOctetBits : Self.igbOctetBits)) - 1
    }

    /// Octet counter widths: 36 bits on ixgbe, 32 on igb.
    static let ixgbeOctetBits: UInt64 = 36, igbOctetBits: UInt64 = 32
    static let packetMask: UInt64 = 0xFFFF_FFFF
    /// The bits of a 36-bit octet counter that its MSB register holds (bits 35:32, in 3:0).
    static let octetMSBMask: UInt64 = 0xF

    /// The MSB register value of a 36-bit octet counter.
    @inline(__always) static func octetMSB(_ octets: UInt64) -> UInt32 {
        UInt32(truncatingIfNeeded: (octets >> 32) & octetMSBMask)
    }

    @inline(__always) mutating func countRX(bytes: Int, multicast: Bool) {
        rxPackets = (rxPackets &+ 1) & Self.packetMask
        rxOctets = (rxOctets &+ UInt64(bytes) &+ UInt64(EthernetFraming.crcLength)) & octetMask
        if multicast { rxMulticast = (rxMulticast &+ 1) & Self.packetMask }
    }

    @inline(__always) mutating func countTX(bytes: Int) {
        txPackets = (txPackets &+ 1) & Self.packetMask
        txOctets = (txOctets &+ UInt64(bytes) &+ UInt64(EthernetFraming.crcLength)) & octetMask
    }

    /// Sets one counter (masked to its width).
    mutating func set(_ r: StatisticRegister, _ value: UInt64) {
        switch r {
        case .rxPackets: rxPackets = value & Self.packetMask
        case .rxOctets: rxOctets = value & octetMask
        case .txPackets: txPackets = value & Self.packetMask
        case .txOctets: txOctets = value & octetMask
        case .rxMulticast: rxMulticast = value & Self.packetMask
        }
    }

    /// Subtracts `amount` from every counter (modulo its width): a device whose counters
    /// went backwards.
    mutating func rewind(by amount: UInt64) {
        rxPackets = (rxPackets &- amount) & Self.packetMask
        txPackets = (txPackets &- amount) & Self.packetMask
        rxMulticast = (rxMulticast &- amount) & Self.packetMask
        rxOctets = (rxOctets &- amount) & octetMask
        txOctets = (txOctets &- amount) & octetMask
    }

    /// Writes the counters into their registers.
    func store(into regs: RegisterFile, map: RegisterMap) {
        regs.write(map.gprc, UInt32(truncatingIfNeeded: rxPackets))
        regs.write(map.gptc, UInt32(truncatingIfNeeded: txPackets))
        regs.write(map.mprc, UInt32(truncatingIfNeeded: rxMulticast))
        regs.write(map.gorc, UInt32(truncatingIfNeeded: rxOctets))
        regs.write(map.gotc, UInt32(truncatingIfNeeded: txOctets))
        if let msb = map.gorcMSB { regs.write(msb, Self.octetMSB(rxOctets)) }
        if let msb = map.gotcMSB { regs.write(msb, Self.octetMSB(txOctets)) }
    }
}
