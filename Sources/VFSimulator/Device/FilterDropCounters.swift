import PMDCore
import Synchronization

/// The PF's count of the frames its receive filters did not deliver to one VF, by reason, with
/// what the drops had most in common (the destination MAC, the VLAN, the largest length) so
/// that a port can say what to set. The PF keeps counting across VF resets.
///
/// One writer: the engine's thread, on the drop path only (a relaxed load and store per
/// counter, no locked instruction). Any thread may read, at any time.
struct FilterDropCounters: ~Copyable {
    private let unicastAddress = Atomic<UInt64>(0)
    private let multicastGroup = Atomic<UInt64>(0)
    private let broadcast = Atomic<UInt64>(0)
    private let vlan = Atomic<UInt64>(0)
    private let frameSize = Atomic<UInt64>(0)
    private let receiveDisabled = Atomic<UInt64>(0)
    /// The destination most unicast drops had (packed as `ReceiveFilter.pack` does).
    let destinations = MajorityVote()
    /// The VLAN id most VLAN drops had.
    let vlans = MajorityVote()
    /// The longest frame dropped for its size, without CRC and without an 802.1Q tag.
    private let longestFrame = Atomic<UInt64>(0)

    /// Counts `frames` frames dropped for `reason`.
    @inline(__always)
    func count(_ reason: FilterDropReason, frames: UInt64 = 1) {
        switch reason {
        case .unicastAddress: Self.add(frames, to: unicastAddress)
        case .multicastGroup: Self.add(frames, to: multicastGroup)
        case .broadcast: Self.add(frames, to: broadcast)
        case .vlan: Self.add(frames, to: vlan)
        case .frameSize: Self.add(frames, to: frameSize)
        case .receiveDisabled: Self.add(frames, to: receiveDisabled)
        }
    }

    /// Notes the untagged length of a frame dropped for its size.
    @inline(__always)
    func noteOversize(untaggedLength: Int) {
        if UInt64(untaggedLength) > longestFrame.load(ordering: .relaxed) {
            longestFrame.store(UInt64(untaggedLength), ordering: .relaxed)
        }
    }

    /// The counts as of now.
    var snapshot: FilterDrops {
        var d = FilterDrops()
        d.unicastAddress = unicastAddress.load(ordering: .relaxed)
        d.multicastGroup = multicastGroup.load(ordering: .relaxed)
        d.broadcast = broadcast.load(ordering: .relaxed)
        d.vlan = vlan.load(ordering: .relaxed)
        d.frameSize = frameSize.load(ordering: .relaxed)
        d.receiveDisabled = receiveDisabled.load(ordering: .relaxed)
        return d
    }

    /// The longest frame dropped for its size (without CRC or 802.1Q tag); nil before any.
    var longestOversizeFrame: Int? {
        let n = longestFrame.load(ordering: .relaxed)
        return n == 0 ? nil : Int(n)
    }

    /// One writer: a load and a store suffice, and the reader never sees a torn value.
    @inline(__always)
    private static func add(_ n: UInt64, to counter: borrowing Atomic<UInt64>) {
        counter.store(counter.load(ordering: .relaxed) &+ n, ordering: .relaxed)
    }
}

/// The value seen most often in a stream, found in constant space (the majority vote of Boyer
/// and Moore): when one value is more than half of the stream it is the one kept; otherwise
/// the kept value is one of the stream's. One writer; any thread may read `winner`.
struct MajorityVote: ~Copyable {
    /// The value in bits 0...62, bit 63 set once any value was seen.
    private let candidate = Atomic<UInt64>(0)
    private let votes = Atomic<UInt64>(0)

    /// Counts one occurrence of `value` (63 bits at most).
    @inline(__always)
    func vote(_ value: UInt64) {
        let tagged = value | Self.seen
        let n = votes.load(ordering: .relaxed)
        if n == 0 {
            candidate.store(tagged, ordering: .relaxed)
            votes.store(1, ordering: .relaxed)
        } else {
            votes.store(candidate.load(ordering: .relaxed) == tagged ? n &+ 1 : n &- 1, ordering: .relaxed)
        }
    }

    /// The value kept; nil before any vote.
    var winner: UInt64? {
        let c = candidate.load(ordering: .relaxed)
        return c & Self.seen != 0 ? c & ~Self.seen : nil
    }

    private static let seen: UInt64 = 1 << 63
}
