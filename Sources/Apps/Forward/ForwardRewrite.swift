import PMDCore

/// How the forwarder changes a frame on its way out.
public enum ForwardMode: String, CaseIterable, Sendable {
    /// Touches no byte.
    case io
    /// Swaps source and destination MAC addresses.
    case macswap
    /// Source = the output port's MAC, destination = the output port's peer MAC (what a VF
    /// needs: its PF drops frames whose source MAC is not the VF's own).
    case mac
}

/// The header rewrite of one direction, resolved once before the hot loop.
@frozen
public struct ForwardRewrite: Sendable {
    @usableFromInline let mode: ForwardMode
    /// Destination then source address, 12 bytes, as stored into the frame (mode `mac`).
    @usableFromInline let addresses: (UInt64, UInt32)

    /// A rewrite for frames leaving through a port whose MAC is `source`, toward `destination`.
    public init(mode: ForwardMode, source: MACAddress, destination: MACAddress) {
        self.mode = mode
        var bytes = [UInt8](repeating: 0, count: 16)
        bytes.withUnsafeMutableBytes { raw in
            destination.store(to: raw.baseAddress!)
            source.store(to: raw.baseAddress! + 6)
        }
        addresses = bytes.withUnsafeBytes { raw in
            (raw.loadUnaligned(as: UInt64.self), raw.loadUnaligned(fromByteOffset: 8, as: UInt32.self))
        }
    }

    /// Rewrites every packet of `batch` in place.
    @inlinable
    public func apply(to batch: borrowing PacketBatch) {
        switch mode {
        case .io:
            return
        case .macswap:
            for i in 0..<batch.count {
                let p = batch[i]
                if p.length >= EthernetHeader.length { EthernetHeader(p.data).swapAddresses() }
            }
        case .mac:
            for i in 0..<batch.count {
                let p = batch[i]
                guard p.length >= EthernetHeader.length else { continue }
                p.data.storeBytes(of: addresses.0, toByteOffset: 0, as: UInt64.self)
                p.data.storeBytes(of: addresses.1, toByteOffset: 8, as: UInt32.self)
            }
        }
    }
}
