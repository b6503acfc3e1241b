/// What a bus puts behind a function's control registers when they are not plain memory: a
/// model that applies each register's semantics (read-to-clear, write-1-to-clear, read-only,
/// self-clearing, mask set/clear) at the moment of the access, as silicon does.
///
/// A real BAR needs none: the device applies the semantics itself.
public protocol ControlRegisterModel: AnyObject, Sendable {
    /// The value a 32-bit read of the register at `offset` returns, with the read's side
    /// effects applied.
    func read(_ offset: Int) -> UInt32
    /// A 32-bit write of `value` to the register at `offset`, with the write's effect applied.
    func write(_ offset: Int, _ value: UInt32)
}

/// The registers of a function's control path (reset, mailbox, interrupt cause and mask,
/// status, link, statistics), read and written one 32-bit access at a time.
///
/// On a real BAR these are the window's volatile accesses. A bus that models the device in
/// memory supplies a `ControlRegisterModel` that gives every access the hardware's effect; the
/// data path (ring tails, heads, descriptors) keeps the raw `RegisterWindow`.
public struct ControlRegisters: Sendable {
    /// The function's register window (BAR0).
    public let window: RegisterWindow
    /// The model that applies the registers' semantics; nil where the device itself does.
    public let model: (any ControlRegisterModel)?

    /// Control registers reached through `window`, with `model` applying their semantics
    /// where the window is plain memory.
    public init(window: RegisterWindow, model: (any ControlRegisterModel)? = nil) {
        self.window = window
        self.model = model
    }

    /// 32-bit read of the register at `offset`.
    public func read(_ offset: Int) -> UInt32 {
        guard let model else { return window.read(offset) }
        return model.read(offset)
    }

    /// 32-bit write of `value` to the register at `offset`.
    public func write(_ offset: Int, _ value: UInt32) {
        guard let model else { return window.write(offset, value) }
        model.write(offset, value)
    }
}
