import PMDCore

/// The mirrors one direction of a lane feeds: the input port's received frames and the
/// output port's sent frames. A lane without mirrors has no tap, and pays one test per burst.
final class MirrorTap: @unchecked Sendable {
    /// The mirror of the input port's received frames, if any.
    let received: ForwardMirror?
    /// The mirror of the output port's sent frames, if any.
    let sent: ForwardMirror?

    /// A tap of `received` and `sent`; nil when both are nil.
    static func make(received: ForwardMirror?, sent: ForwardMirror?) -> MirrorTap? {
        received == nil && sent == nil ? nil : MirrorTap(received: received, sent: sent)
    }

    private init(received: ForwardMirror?, sent: ForwardMirror?) {
        self.received = received
        self.sent = sent
    }

    /// Copies a fresh burst as received, rewrites it, and copies it as it will be sent.
    func pass(_ batch: borrowing PacketBatch, through rewrite: ForwardRewrite) {
        received?.copyReceived(batch)
        rewrite.apply(to: batch)
        sent?.copySent(batch)
    }
}
