// The eventfds this process holds open, told apart by the id the kernel gives each eventfd
// object (the `eventfd-id:` line of /proc/self/fdinfo/FD): two descriptors with one id are one
// eventfd, duplicated.
import Foundation

/// This process's open eventfds, looked up in /proc/self/fdinfo.
public enum OpenEventFDs {
    /// The eventfd id of descriptor `fd` (a decimal number, as /proc names it), nil when it is
    /// closed or not an eventfd.
    public static func id(of fd: String) -> String? {
        guard let text = try? String(contentsOfFile: "/proc/self/fdinfo/\(fd)", encoding: .utf8) else { return nil }
        let line = text.split(separator: "\n").first { $0.hasPrefix("eventfd-id:") }
        return line.map { String($0.dropFirst("eventfd-id:".count)).trimmingCharacters(in: .whitespaces) }
    }

    /// The ids of every open eventfd descriptor of this process, one entry per descriptor.
    public static func ids() -> [String] {
        let fds = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fdinfo")) ?? []
        return fds.compactMap { id(of: $0) }
    }

    /// How many descriptors of this process refer to the eventfds of `ids` (the originals and
    /// any duplicates).
    public static func references(to ids: Set<String>) -> Int { Self.ids().filter(ids.contains).count }
}
