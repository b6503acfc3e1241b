import PMDCore
import Synchronization

/// A port an app opened from a port spec, with the spec it came from, and the one way to close
/// ports that exchanged packets.
public final class OpenedPort: @unchecked Sendable {
    /// The port.
    public let port: any Port
    /// The spec the user gave, for tables and messages.
    public let spec: String
    private let closed = Mutex(false)

    /// Wraps `port`, opened from `spec`.
    public init(port: any Port, spec: String) {
        self.port = port
        self.spec = spec
    }

    /// Whether the port's device was removed (seen at its last `updateStats()`).
    public var isRemoved: Bool { (port as? DriverPortHandle)?.driverPort.isRemoved ?? false }

    /// Whether the port's input is a finite source with nothing left to deliver.
    public var isInputExhausted: Bool { port.isExhausted }

    /// Closes ports that may hold each other's buffers (a packet received on one sits in
    /// another's transmit ring): first every port stops, giving back every buffer it holds,
    /// then every port closes, then each pool is checked. Returns one sentence per port whose
    /// pools are not whole; empty when all is well. Ports already closed are skipped.
    public static func closeAll(_ ports: [OpenedPort]) -> [String] {
        let open = ports.filter { p in p.closed.withLock { was in defer { was = true }; return !was } }
        open.forEach { $0.port.stop() }
        open.forEach { $0.port.close() }
        return open.compactMap { p in
            let held = p.port.buffersInUse
            return held == 0 ? nil : "\(p.spec): \(held) buffers were not returned to the port's pools"
        }
    }
}
