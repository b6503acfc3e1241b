import CShims
#if canImport(Glibc)
import Glibc
#endif

/// The MSI-X message side of a simulated VF: which eventfd each vector's message goes to,
/// when a vector may send again, and how many messages each sent.
///
/// Owned by the engine's thread (the fds, the waiting set and the moderation deadlines); the
/// message counts are 64-bit words the engine writes and anyone reads.
///
/// What sends a message (82599 datasheet §7.3.1 and §7.3.4, 82576 datasheet §7.3.1 and §7.3.4,
/// MSI-X mode): a cause event of a vector (a cause the model raised, a VF write to EICS, or a
/// VF write to EIMS that unmasks a vector whose cause is still set) waits until the vector is
/// unmasked in EIMS, its cause is still set in EICR and its throttling interval since its last
/// message has passed; then the message is sent, and auto-clear (EIAC) clears the vector's
/// cause, auto-mask (EIAM) its mask bit. A waiting event of a vector that is masked, or whose
/// cause the VF cleared, is dropped: unmasking the vector with its cause set is a new event.
/// Messages go out only while the function's MSI-X capability is enabled and not function
/// masked, and only for vectors with an eventfd.
final class MSIXDelivery: @unchecked Sendable {
    // @unchecked: engine-owned fields are used by the engine's thread only; `sent` is read
    // anywhere with single 64-bit loads.

    /// Vectors of every simulated VF.
    static let vectors = ConfigSpace.msixVectors
    /// All vector bits.
    static let vectorBits: UInt32 = 1 << UInt32(vectors) - 1

    /// Messages sent, per vector.
    let sent: UnsafeMutablePointer<UInt64>
    /// The eventfd of each vector (our own duplicate), or -1.
    @exclusivity(unchecked) private(set) var eventFDs: [Int32]
    /// The engine time before which each vector may not send again.
    @exclusivity(unchecked) private var nextAllowed: [UInt64]
    /// Vectors with a cause event not yet sent (throttled).
    @exclusivity(unchecked) private var waiting: UInt32 = 0
    /// The capability is enabled and not function-masked.
    @exclusivity(unchecked) private var capabilityDelivers = false
    /// Messages can go out at all: the capability delivers and a vector has an eventfd. While
    /// false the model skips everything but raising causes.
    @exclusivity(unchecked) private(set) var armed = false

    init() {
        sent = .allocate(capacity: Self.vectors)
        sent.initialize(repeating: 0, count: Self.vectors)
        eventFDs = Array(repeating: -1, count: Self.vectors)
        nextAllowed = Array(repeating: 0, count: Self.vectors)
    }

    deinit {
        Self.close(eventFDs)
        sent.deallocate()
    }

    /// Messages sent by vector `v` so far.
    func messages(vector v: Int) -> UInt64 {
        vfpmd_compiler_barrier()
        return sent[v]
    }

    /// Takes new eventfds (closing the ones they replace) and the capability's state; returns
    /// whether the model became armed just now (so causes set before may be sent).
    func configure(eventFDs fds: [Int32]?, capabilityDelivers delivers: Bool) -> Bool {
        if let fds {
            Self.close(eventFDs)
            eventFDs = fds + Array(repeating: -1, count: Self.vectors - fds.count)
        }
        capabilityDelivers = delivers
        let wasArmed = armed
        armed = delivers && eventFDs.contains { $0 >= 0 }
        if !armed { waiting = 0 }
        return armed && !wasArmed
    }

    /// Sends what may be sent at engine time `now`; `events` are the vectors with a new cause
    /// event since the last call. True when a message went out.
    func deliver(events: UInt32, now: UInt64, registers: RegisterFile, map: RegisterMap) -> Bool {
        waiting |= events
        guard waiting != 0 else { return false }
        waiting &= registers.read(map.eims) & registers.read(map.eicr)
        var sentAny = false
        var v = 0
        while v < Self.vectors {
            let bit = UInt32(1) << UInt32(v)
            if waiting & bit != 0 && now >= nextAllowed[v] {
                waiting &= ~bit
                if eventFDs[v] >= 0 {
                    // Auto-clear and auto-mask take effect with the message, before its
                    // receiver can see it: a receiver woken by it that re-arms the vector at
                    // once must find its arm kept, not undone by a late auto-mask.
                    nextAllowed[v] = now &+ Self.interval(registers.read(map.eitr(v)), map)
                    if registers.read(map.eiac) & bit != 0 { registers.clearBits(map.eicr, bit) }
                    if registers.read(map.eiam) & bit != 0 { registers.clearBits(map.eims, bit) }
                    sent[v] &+= 1
                    sentAny = true
                    var one: UInt64 = 1
                    _ = Glibc.write(eventFDs[v], &one, MemoryLayout<UInt64>.size)
                }
            }
            v &+= 1
        }
        return sentAny
    }

    /// The least time between two messages of a vector whose EITR holds `eitr` (ns).
    static func interval(_ eitr: UInt32, _ map: RegisterMap) -> UInt64 {
        UInt64(eitr >> map.itrShift & map.itrMask) &* map.itrUnitNanoseconds
    }

    /// Closes the valid descriptors among `fds`.
    static func close(_ fds: [Int32]) {
        for fd in fds where fd >= 0 { _ = Glibc.close(fd) }
    }
}
