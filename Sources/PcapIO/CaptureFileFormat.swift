#if canImport(Glibc)
import Glibc
#endif

/// The layout of a capture file: classic pcap or pcapng.
public enum CaptureFileFormat: Sendable, Equatable {
    /// A pcap file header, then records of a 16-byte header and the frame's bytes.
    case pcap
    /// A Section Header Block and an Interface Description Block per port, then one Enhanced Packet
    /// Block per frame, and an Interface Statistics Block when the file is closed.
    case pcapng

    /// pcapng for a name ending in `.pcapng`, pcap for any other (`-w FILE`).
    public static func forFileName(_ name: String) -> CaptureFileFormat {
        name.hasSuffix(".pcapng") ? .pcapng : .pcap
    }
}

/// One interface of a pcapng file: a port the capture reads.
public struct PcapngInterface: Sendable, Equatable {
    /// `if_name`: the port, as the user named it.
    public var name: String
    /// `if_description`: what is known of the port; empty for none.
    public var description: String
    /// Whether the interface holds frames a port sent (epb_flags direction outbound) rather
    /// than frames it received (inbound).
    public var outbound: Bool

    /// The interface `name`, described by `description`, of received frames unless `outbound`.
    public init(name: String, description: String = "", outbound: Bool = false) {
        self.name = name
        self.description = description
        self.outbound = outbound
    }
}

/// What a pcapng file says about where it was captured: its Section Header Block's options
/// (the machine, its operating system, the program) and its interfaces' (the ports, in the
/// order of their interface IDs).
public struct PcapngDescription: Sendable, Equatable {
    /// `shb_hardware`: the machine's hardware name, as `uname -m` prints it.
    public var hardware: String
    /// `shb_os`: the operating system and its release, as `uname -sr` prints them.
    public var operatingSystem: String
    /// `shb_userappl`: the program and its version.
    public var application: String
    /// The interfaces, one Interface Description Block each; a record names one by its index.
    public var interfaces: [PcapngInterface]
    /// `if_filter` of every interface: the filter expression (libpcap's syntax); empty when
    /// every frame is kept.
    public var filter: String
    /// One bit per interface ID below 64: set for an outbound interface (see `PcapngInterface.outbound`).
    var outboundInterfaces: UInt64 {
        interfaces.prefix(64).enumerated().reduce(0) { mask, item in item.element.outbound ? mask | 1 << UInt64(item.offset) : mask }
    }

    /// A description of `interfaces` on this machine (`uname`), written by `application`.
    public init(application: String, interfaces: [PcapngInterface], filter: String = "") {
        precondition(!interfaces.isEmpty, "a pcapng capture has at least one interface")
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
        self.interfaces = interfaces
        self.filter = filter
    }

    /// A description of the one interface `interfaceName` on this machine, written by `application`.
    public init(application: String, interfaceName: String, interfaceDescription: String = "", filter: String = "") {
        self.init(application: application, interfaces: [PcapngInterface(name: interfaceName, description: interfaceDescription)],
                  filter: filter)
    }
}

/// The counters an Interface Statistics Block closes a pcapng file with, for one interface:
/// those of the capture from its start to the file's end (a rotated file's block counts the
/// files before it too).
public struct InterfaceStatistics: Sendable, Equatable {
    /// `isb_starttime`: when the capture started, in nanoseconds after the epoch.
    public var startNanoseconds: UInt64 = 0
    /// `isb_endtime`: when the file was closed, in nanoseconds after the epoch.
    public var endNanoseconds: UInt64 = 0
    /// `isb_ifrecv`: frames received from the port.
    public var received: UInt64 = 0
    /// `isb_ifdrop`: frames the port's ring dropped (it had no free descriptor).
    public var droppedByRing: UInt64 = 0
    /// `isb_filteraccept`: frames that passed the filter (written, or dropped by the writer).
    public var acceptedByFilter: UInt64 = 0
    /// `isb_osdrop`: frames the writer dropped (it could not take them in time).
    public var droppedByWriter: UInt64 = 0

    /// All zero.
    public init() {}
}
