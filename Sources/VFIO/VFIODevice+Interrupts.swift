import CShims
import Foundation
import PMDCore

/// MSI-X through VFIO: `VFIO_DEVICE_GET_IRQ_INFO` on the MSI-X index gives the vector count,
/// `VFIO_DEVICE_SET_IRQS` attaches one eventfd per vector (the kernel takes its own reference
/// to each, so the caller keeps and closes its descriptors) and detaches them all again.
extension VFIODevice: InterruptNotifications {
    /// The MSI-X vectors vfio-pci offers for the device (its capability's table size); 0 when
    /// the device has no MSI-X or the kernel does not answer.
    public var interruptVectorCount: Int {
        guard let info = try? withOpenDevice({ (fd: Int32) throws(VFIOError) in try msixInfo(fd) }) else { return 0 }
        return info.flags & UInt32(VFIO_IRQ_INFO_EVENTFD) != 0 ? Int(info.count) : 0
    }

    /// Attaches `eventFDs[v]` to MSI-X vector `v` (an empty array, or one of only nils,
    /// detaches every vector and turns MSI-X off). Throws a `VFIOError` when the array is
    /// longer than the device's vectors, a descriptor is not open or the kernel refuses.
    public func setInterruptEventFDs(_ eventFDs: [Int32?]) throws {
        try withOpenDevice { (fd: Int32) throws(VFIOError) in
            if eventFDs.allSatisfy({ $0 == nil }) {
                try detachInterrupts(fd)
                return
            }
            let info = try msixInfo(fd)
            let available = info.flags & UInt32(VFIO_IRQ_INFO_EVENTFD) != 0 ? Int(info.count) : 0
            guard eventFDs.count <= available else {
                throw .interruptVectors(pciAddress, wanted: eventFDs.count, available: available)
            }
            if let closed = eventFDs.compactMap({ $0 }).first(where: { fcntl($0, F_GETFD) == -1 }) {
                throw .eventFDNotOpen(pciAddress, fd: closed)
            }
            // vfio-pci resizes an enabled MSI-X set only by turning it off first.
            if attachedVectors != 0 && attachedVectors != eventFDs.count { try detachInterrupts(fd) }
            try setIRQs(fd, VFIOInterruptRequest.attach(eventFDs), call: "VFIO_DEVICE_SET_IRQS (MSI-X, \(eventFDs.count) eventfds)")
            attachedVectors = eventFDs.count
        }
    }

    /// Turns MSI-X off if this device turned it on; called with the device open.
    func detachInterrupts(_ fd: Int32) throws(VFIOError) {
        guard attachedVectors != 0 else { return }
        attachedVectors = 0
        try setIRQs(fd, VFIOInterruptRequest.detachAll(), call: "VFIO_DEVICE_SET_IRQS (MSI-X off)")
    }

    private func setIRQs(_ fd: Int32, _ request: [UInt8], call: String) throws(VFIOError) {
        var bytes = request
        let result = bytes.withUnsafeMutableBytes { vfpmd_ioctl_ptr(fd, vfpmd_VFIO_DEVICE_SET_IRQS(), $0.baseAddress) }
        guard result == 0 else { throw .systemCallFailed(pciAddress, call: call, errno: .last) }
    }

    private func msixInfo(_ fd: Int32) throws(VFIOError) -> vfio_irq_info {
        var info = vfio_irq_info()
        info.argsz = UInt32(MemoryLayout<vfio_irq_info>.size)
        info.index = UInt32(VFIO_PCI_MSIX_IRQ_INDEX)
        guard vfpmd_ioctl_ptr(fd, vfpmd_VFIO_DEVICE_GET_IRQ_INFO(), &info) == 0 else {
            throw .systemCallFailed(pciAddress, call: "VFIO_DEVICE_GET_IRQ_INFO (MSI-X)", errno: .last)
        }
        return info
    }
}
