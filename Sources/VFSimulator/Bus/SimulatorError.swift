/// Errors of the simulator's bus-level operations; each says what went wrong.
public enum SimulatorError: Error, CustomStringConvertible, Equatable {
    /// Unmap of a region that is not mapped in this container.
    case notMapped(bytes: Int)
    /// Configuration-space access outside the 4 KiB space or not 4-byte aligned.
    case badConfigOffset(Int)

    public var description: String {
        switch self {
        case let .notMapped(bytes):
            return "cannot unmap a DMA region of \(bytes) bytes: it is not mapped in this simulated container (map it first, and unmap it once per map)"
        case let .badConfigOffset(offset):
            return "configuration-space offset \(offset) is not a 4-byte aligned offset below 4096"
        }
    }
}
