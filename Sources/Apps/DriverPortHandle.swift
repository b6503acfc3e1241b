import PMDCore
import Synchronization
import VFDriver

/// The driver's port as an app holds it, with what lies behind the driver: a VFIO device to
/// close, a simulated VF to detach. The data path goes straight to the driver's inlined
/// burst functions.
public class DriverPortHandle: Port, @unchecked Sendable {
    // @unchecked: the data path is the driver's (one thread per queue); close runs once.

    /// The driver's port.
    public let driverPort: VFPort
    private let closed = Atomic<Bool>(false)

    init(_ port: VFPort) { driverPort = port }

    public var name: String { driverPort.name }
    public var queueCount: Int { driverPort.queueCount }
    public var macAddress: MACAddress { driverPort.macAddress }
    public var link: LinkStatus { driverPort.link }
    public var stats: PortStats { driverPort.stats }
    public var buffersInUse: Int { driverPort.buffersInUse }
    public var receivePools: [Mempool] { driverPort.receivePools }
    /// A device never runs dry unless a subclass knows better.
    public var isExhausted: Bool { false }
    public func mapForTransmit(_ pool: Mempool) throws { try driverPort.mapForTransmit(pool) }
    public func start() throws { try driverPort.start() }
    public func stop() { driverPort.stop() }
    public func updateStats() { driverPort.updateStats() }

    public func receive(queue: Int, into batch: inout PacketBatch) -> Int {
        driverPort.receive(queue: queue, into: &batch)
    }

    public func transmit(queue: Int, _ batch: inout PacketBatch) -> Int {
        driverPort.transmit(queue: queue, &batch)
    }

    /// Closes the driver's port and what is behind it, once.
    public func close() {
        guard !closed.exchange(true, ordering: .acquiringAndReleasing) else { return }
        release()
    }

    /// What closing does: the driver's port; subclasses add what is behind it.
    func release() { driverPort.close() }
}
