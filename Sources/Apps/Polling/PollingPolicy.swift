import VFDriver

/// How a datapath thread waits for frames (`--poll`).
public enum PollingMode: String, Sendable, CaseIterable, CustomStringConvertible {
    /// Poll the rings without pause: the lowest latency, a whole core even when idle.
    case busy
    /// Poll while frames come; after `PollingPolicy.idleMicroseconds` with none, arm the
    /// queues' interrupts and sleep until one fires (or a report is due).
    case adaptive
    /// Arm and sleep after every poll that found nothing.
    case interrupt

    public var description: String { rawValue }
}

/// `--poll`, `--poll-idle` and `--moderation`: the polling mode with its idle threshold and the
/// interrupt moderation the ports are opened with.
public struct PollingPolicy: Equatable, Sendable {
    /// The mode.
    public var mode: PollingMode
    /// Microseconds without a frame on any queue before an adaptive poller sleeps.
    public var idleMicroseconds: Int
    /// The ports' interrupt moderation (EITR): microseconds at least between two interrupts
    /// of a queue; 0 interrupts at once.
    public var moderationMicroseconds: Int

    /// The idle threshold when none is given: long enough that a steady stream of even a few
    /// thousand frames a second never sleeps, short enough that an idle poller spins no longer
    /// than a scheduler tick.
    public static let defaultIdleMicroseconds = 200
    /// Idle thresholds accepted: up to a second (no threshold at all is `--poll interrupt`).
    public static let idleRange = 1...1_000_000

    /// A policy of `mode`.
    public init(mode: PollingMode, idleMicroseconds: Int = defaultIdleMicroseconds, moderationMicroseconds: Int = 0) {
        self.mode = mode
        self.idleMicroseconds = idleMicroseconds
        self.moderationMicroseconds = moderationMicroseconds
    }

    /// Busy polling.
    public static let busy = PollingPolicy(mode: .busy)

    /// The driver's interrupt settings for `pci:` and `sim:` ports: none when busy.
    public var interruptSettings: InterruptSettings? {
        mode == .busy ? nil : InterruptSettings(moderationMicroseconds: moderationMicroseconds)
    }

    /// Microseconds without a frame before sleeping: 0 in interrupt mode.
    var sleepAfterMicroseconds: Int { mode == .interrupt ? 0 : idleMicroseconds }
}

/// A `--poll`, `--poll-idle` or `--moderation` value that is refused: one sentence.
public struct PollingOptionError: Error, Equatable, Sendable, CustomStringConvertible {
    /// What is wrong and what to give instead.
    public let description: String
}

extension PollingPolicy {
    /// The policy the options give: `mode` (nil: `defaultMode`), `idle` and `moderation` as
    /// the user typed them (nil: the defaults). Throws one sentence naming the option at fault.
    public init(mode: String?, idle: String?, moderation: String?, defaultMode: PollingMode) throws(PollingOptionError) {
        var policy = PollingPolicy(mode: defaultMode)
        if let mode {
            guard let chosen = PollingMode(rawValue: mode) else {
                throw PollingOptionError(description: "--poll \(mode): give busy, adaptive or interrupt")
            }
            policy.mode = chosen
        }
        if let idle {
            let range = Self.idleRange
            guard let value = Int(idle), range.contains(value) else {
                throw PollingOptionError(description: "--poll-idle \(idle): give whole microseconds from \(range.lowerBound) to \(range.upperBound) "
                    + "(--poll interrupt sleeps at once)")
            }
            guard policy.mode == .adaptive else {
                throw PollingOptionError(description: "--poll-idle is the idle time of --poll adaptive; leave it out with --poll \(policy.mode)")
            }
            policy.idleMicroseconds = value
        }
        if let moderation {
            let range = InterruptSettings.moderationRange
            guard let value = Int(moderation), range.contains(value) else {
                throw PollingOptionError(description: "--moderation \(moderation): give whole microseconds from \(range.lowerBound) to \(range.upperBound) "
                    + "(0: an interrupt as soon as a frame arrives)")
            }
            guard policy.mode != .busy else {
                throw PollingOptionError(description: "--moderation paces the interrupts of --poll adaptive or interrupt; leave it out with --poll busy")
            }
            policy.moderationMicroseconds = value
        }
        self = policy
    }
}

extension PollingOptionError {
    /// `--poll interrupt` with a port that cannot interrupt: `waking` is what it cannot wake
    /// ("the capture", "its forwarding lane").
    static func cannotInterrupt(port: String, waking: String) -> PollingOptionError {
        PollingOptionError(description: "--poll interrupt: port \(port) cannot wake \(waking) by an interrupt "
            + "(only pci: and sim: ports opened in interrupt mode can); use --poll adaptive, which polls it busily")
    }
}
