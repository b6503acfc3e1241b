#if canImport(Glibc)
import Glibc
#endif

/// The layout of a capture file: classic pcap or pcapng.
public enum CaptureFileFormat: Sendable, Equatable {
    /// A pcap file header, then records of a 16-byte header and the frame's bytes.
    case pcap
    /// A Section Header Block and one Interface Description Block, then one Enhanced Packet
    /// Block per frame, and an Interface Statistics Block when the file is closed.
    case pcapng

    /// pcapng for a name ending in `.pcapng`, pcap for any other (`-w FILE`).
    public static func forFileName(_ name: String) -> CaptureFileFormat {
        name.hasSuffix(".pcapng") ? .pcapng : .pcap
    }
}

/// What a pcapng file says about where it was captured: its Section Header Block's options
/// (the machine, its operating system, the program) and its one interface's (the port).
public struct PcapngDescription: Sendable, Equatable {
    /// `shb_hardware`: the machine's hardware name, as `uname -m` prints it.
    public var hardware: String
    /// `shb_os`: the operating system and its release, as `uname -sr` prints them.
    public var operatingSystem: String
    /// `shb_userappl`: the program and its version.
    public var application: String
    /// `if_name`: the port, as the user named it.
    public var interfaceName: String
    /// `if_description`: what is known of the port; empty for none.
    public var interfaceDescription: String
    /// `if_filter`: the filter expression (libpcap's syntax); empty when every frame is kept.
    public var filter: String

    /// A description of `interfaceName` on this machine (`uname`), written by `application`.
    public init(application: String, interfaceName: String, interfaceDescription: String = "", filter: String = "") {
        var names = utsname()
        uname(&names)
        func field<T>(_ value: T) -> String {
            withUnsafeBytes(of: value) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
        }
        hardware = field(names.machine)
        operatingSystem = field(names.sysname) + " " + field(names.release)
        self.application = application
        self.interfaceName = interfaceName
        self.interfaceDescription = interfaceDescription
        self.filter = filter
    }
}

/// The counters an Interface Statistics Block closes a pcapng file with: those of the capture
/// from its start to the file's end (a rotated file's block counts the files before it too).
public struct InterfaceStatistics: Sendable, Equatable {
    /// `isb_starttime`: when the capture started, in nanoseconds after the epoch.
    public var startNanoseconds: UInt64 = 0
    /// `isb_endtime`: when the file was closed, in nanoseconds after the epoch.
    public var endNanoseconds: UInt64 = 0
    /// `isb_ifrecv`: frames received from the port.
    public var received: UInt64 = 0
    /// `isb_ifdrop`: frames the port's ring dropped (it had no free descriptor).
    public var droppedByRing: UInt64 = 0
    /// `isb_filteraccept`: frames that passed the filter (every frame handed to the writer).
    public var acceptedByFilter: UInt64 = 0
    /// `isb_osdrop`: frames the writer dropped (a write of the file failed).
    public var droppedByWriter: UInt64 = 0

    /// All zero.
    public init() {}
}
