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

    /// Rewrites every packet of `batch` in place, and asks the output port to insert again
    /// the VLAN tag the input port stripped (`.vlanStripped` becomes `.insertVLAN` with the
    /// same `vlanTCI`), so a forwarded frame leaves as it arrived. An untagged packet costs
    /// one flag test.
    @inlinable
    public func apply(to batch: borrowing PacketBatch) {
        let stripped = batch.pool.strippedTagStatus
        let insert = PacketFlags.insertVLAN.rawValue
        switch mode {
        case .io:
            // The indices in place and the pool's metadata array: one flag load per packet.
            let metadata = batch.pool.storage.pointee.metadata
            batch.withIndices { indices in
                for index in indices {
                    Self.requestTagInsertion(metadata + Int(index), ifStripped: stripped, insert: insert)
                }
            }
        case .macswap:
            for i in 0..<batch.count {
                let p = batch[i]
                Self.requestTagInsertion(p.metadata, ifStripped: stripped, insert: insert)
                if p.length >= EthernetHeader.length { EthernetHeader(p.data).swapAddresses() }
            }
        case .mac:
            for i in 0..<batch.count {
                let p = batch[i]
                Self.requestTagInsertion(p.metadata, ifStripped: stripped, insert: insert)
                guard p.length >= EthernetHeader.length else { continue }
                p.data.storeBytes(of: addresses.0, toByteOffset: 0, as: UInt64.self)
                p.data.storeBytes(of: addresses.1, toByteOffset: 8, as: UInt32.self)
            }
        }
    }

    /// Sets the `insert` flag of a packet whose tag was stripped (`stripped`: its pool's
    /// `strippedTagStatus`).
    @inlinable @inline(__always)
    static func requestTagInsertion(_ record: UnsafeMutablePointer<PacketMetadata>, ifStripped stripped: UInt32,
                                    insert: UInt16) {
        if _slowPath(record.pointee.tagStripped(strippedTagStatus: stripped)) {
            record.pointee.flags = PacketFlags(rawValue: record.pointee.flags.rawValue | insert)
        }
    }
}
