import PMDCore

/// A port an app opened from a port spec, with what the app needs around it: whether its
/// input is a finite source that has run dry, and how to close it and check its buffers.
public final class OpenedPort: @unchecked Sendable {
    /// The port.
    public let port: any Port
    /// The spec the user gave, for tables and messages.
    public let spec: String
    private let inputDone: @Sendable () -> Bool
    private let closer: @Sendable () -> [String]

    /// Wraps `port`. `inputDone` answers whether no packet will ever arrive again (a finite
    /// source fully delivered); `close` stops and releases everything behind the port and
    /// returns one sentence per problem found (a pool that is not whole).
    public init(
        port: any Port, spec: String,
        inputDone: @escaping @Sendable () -> Bool = { false },
        close: @escaping @Sendable () -> [String]
    ) {
        self.port = port
        self.spec = spec
        self.inputDone = inputDone
        self.closer = close
    }

    /// Whether the port's input is a finite source with nothing left to deliver.
    public var isInputExhausted: Bool { port.isExhausted || inputDone() }

    /// Closes the port; returns the problems found (leaked buffers), empty when all is whole.
    public func close() -> [String] { closer() }
}
