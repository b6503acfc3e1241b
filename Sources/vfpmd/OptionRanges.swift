import ArgumentParser
#if canImport(Glibc)
import Glibc
#endif

/// The valid range of every numeric option, in one place, so that each command accepts exactly
/// that range and names it when a value falls outside (`inf`, `1e300`, 2^64, 0, negatives).
enum OptionRanges {
    /// Seconds a run may last: more than 0, at most about 31 years (nanoseconds fit 64 bits).
    static let maxSeconds = 1e9
    /// `-C`: millions of bytes per file, at most a petabyte.
    static let maxFileMegabytes = 1e9
    /// `-G`: seconds per file, at most a year.
    static let maxSecondsPerFile = 366 * 86_400
    /// `--rate`: packets per second, at most 1e9 (a 100 GbE line carries 148.8 M of 64 bytes).
    static let maxPacketsPerSecond = 1e9

    /// Checks a duration in seconds.
    static func seconds(_ value: Double?, option: String) throws {
        guard let value else { return }
        guard value.isFinite, value > 0, value <= maxSeconds else {
            throw ValidationError("\(option) \(value): give a number of seconds more than 0 and at most \(Int(maxSeconds))")
        }
    }

    /// Checks a whole number against `range`.
    static func whole<T: BinaryInteger>(_ value: T?, in range: ClosedRange<T>, option: String) throws {
        guard let value else { return }
        guard range.contains(value) else {
            throw ValidationError("\(option) \(value): give a whole number from \(range.lowerBound) to \(range.upperBound)")
        }
    }

    /// Checks a count of megabytes.
    static func megabytes(_ value: Double?, option: String) throws {
        guard let value else { return }
        guard value.isFinite, value > 0, value <= maxFileMegabytes else {
            throw ValidationError("\(option) \(value): give millions of bytes more than 0 and at most \(Int(maxFileMegabytes))")
        }
    }

    /// CPUs this machine has (for `--cores`).
    static var cpuCount: Int { max(1, Int(sysconf(Int32(_SC_NPROCESSORS_CONF)))) }
}
