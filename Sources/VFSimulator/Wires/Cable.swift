/// A cable between two simulated VFs: what one transmits, the other receives. Each direction
/// is a bounded queue; frames that do not fit are dropped and counted.
public final class Cable: Sendable {
    /// Frames from the first VF to the second, and back.
    public let forward: FrameQueue
    public let backward: FrameQueue

    /// Connects `a` and `b` (replacing their wires) with queues of `capacity` frames.
    public init(_ a: SimulatedVF, _ b: SimulatedVF, capacity: Int = 1024) {
        forward = FrameQueue(capacity: capacity)
        backward = FrameQueue(capacity: capacity)
        a.connect(rx: backward, tx: forward)
        b.connect(rx: forward, tx: backward)
    }

    /// Frames dropped in either direction.
    public var drops: UInt64 { forward.drops + backward.drops }
}
