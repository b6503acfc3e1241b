extension OpenedPort {
    /// What is known of the port from its spec, in a few words (a pcapng interface's
    /// description): a VF through VFIO, a simulated VF of a family, or capture files.
    public var kindDescription: String {
        switch kind {
        case .pci(let address, _, _): return "Intel SR-IOV VF \(address) through VFIO"
        case .sim(let settings, _): return "simulated \(settings.family)"
        case .pcap: return "capture files (pcap port)"
        case nil: return ""
        }
    }
}
