import CShims

/// The argument of `VFIO_DEVICE_SET_IRQS` for a vfio-pci device's MSI-X index, as bytes:
/// `struct vfio_irq_set` (argsz, flags, index, start, count, each a 32-bit word) followed by
/// one 32-bit eventfd per vector, -1 where a vector gets none (uapi <linux/vfio.h>).
///
/// Built apart from the ioctl so its layout can be checked against the kernel header.
public enum VFIOInterruptRequest {
    /// Size of the fixed part of `struct vfio_irq_set` (its `data[]` starts here).
    public static let headerSize = 20

    /// Attaches `eventFDs[v]` to MSI-X vector `v` for `v` in `0..<eventFDs.count` (nil: -1, the
    /// vector is left without one): `VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER`.
    public static func attach(_ eventFDs: [Int32?]) -> [UInt8] {
        let flags = UInt32(VFIO_IRQ_SET_DATA_EVENTFD) | UInt32(VFIO_IRQ_SET_ACTION_TRIGGER)
        return request(flags: flags, data: eventFDs.map { $0 ?? -1 })
    }

    /// Turns MSI-X off and drops every eventfd: `VFIO_IRQ_SET_DATA_NONE |
    /// VFIO_IRQ_SET_ACTION_TRIGGER` with a count of 0.
    public static func detachAll() -> [UInt8] {
        request(flags: UInt32(VFIO_IRQ_SET_DATA_NONE) | UInt32(VFIO_IRQ_SET_ACTION_TRIGGER), data: [])
    }

    private static func request(flags: UInt32, data: [Int32]) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(headerSize + 4 * data.count)
        let header = [UInt32(headerSize + 4 * data.count), flags, UInt32(VFIO_PCI_MSIX_IRQ_INDEX), 0, UInt32(data.count)]
        for word in header { withUnsafeBytes(of: word.littleEndian) { bytes.append(contentsOf: $0) } }
        for fd in data { withUnsafeBytes(of: fd.littleEndian) { bytes.append(contentsOf: $0) } }
        return bytes
    }
}
