/// Errors of the simulator's bus-level operations; each says what went wrong.
public enum SimulatorError: Error, CustomStringConvertible, Equatable {
    /// Unmap of a region that is not mapped in this container.
    case notMapped(bytes: Int)
    /// Configuration-space access outside the 4 KiB space or not 4-byte aligned.
    case badConfigOffset(Int)
    /// More eventfds than the function has MSI-X vectors.
    case tooManyInterruptVectors(given: Int, vectors: Int)
    /// An eventfd that is not an open descriptor.
    case badEventFD(Int32)

    public var description: String {
        switch self {
        case let .notMapped(bytes):
            return "cannot unmap a DMA region of \(bytes) bytes: it is not mapped in this simulated container (map it first, and unmap it once per map)"
        case let .badConfigOffset(offset):
            return "configuration-space offset \(offset) is not a 4-byte aligned offset below 4096"
        case let .tooManyInterruptVectors(given, vectors):
            return "\(given) eventfds were given but the function has \(vectors) MSI-X vectors (give at most one per vector)"
        case let .badEventFD(fd):
            return "descriptor \(fd) is not open (give an eventfd made with eventfd(2))"
        }
    }
}
