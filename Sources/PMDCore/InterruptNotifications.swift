/// How a PCI function hands out its MSI-X interrupts: one Linux eventfd per vector, written by
/// the device each time it sends that vector's message, so a caller can sleep in poll(2) or
/// epoll on the fds of either backend.
///
/// The shape is VFIO's: `VFIO_DEVICE_SET_IRQS` with `VFIO_IRQ_SET_DATA_EVENTFD` on the MSI-X
/// index takes one eventfd per vector (-1 for none) and the kernel keeps its own reference to
/// each. Here too the caller keeps its descriptors: the function holds its own references and
/// drops them when the vector is detached or the function goes away.
public protocol InterruptNotifications: AnyObject, Sendable {
    /// MSI-X vectors the function has (its MSI-X capability's table size).
    var interruptVectorCount: Int { get }

    /// Attaches `eventFDs[v]` to vector `v` (nil: vector `v` gets none); vectors past the end
    /// of the array get none, so an empty array detaches every vector. Throws when the array is
    /// longer than `interruptVectorCount` or a descriptor is not open.
    func setInterruptEventFDs(_ eventFDs: [Int32?]) throws
}
