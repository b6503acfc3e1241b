import PMDCore
import Testing
import PCISysfs
@testable import Apps

@Suite("Port specs: one grammar for pci:, bare PCI addresses, sim:, pcap:")
struct PortSpecTests {
    @Test("pci: with every setting")
    func pciFull() throws {
        let spec = try PortSpec(parsing: "pci:0000:03:10.1,queues=2,rxd=1024,txd=512,mtu=9000,promisc=on,allmulti=on,vlan=100,mac=02:00:00:00:00:05")
        var expected = PCIPortSettings(address: PCIAddress(domain: 0, bus: 3, device: 0x10, function: 1)!)
        expected.queues = 2
        expected.rxDescriptors = 1024
        expected.txDescriptors = 512
        expected.mtu = 9000
        expected.promiscuous = true
        expected.allMulticast = true
        expected.vlan = 100
        expected.mac = MACAddress(2, 0, 0, 0, 0, 5)
        #expect(spec.kind == .pci(expected))
        #expect(spec.kindName == "pci")
    }

    @Test("a bare PCI address is pci:, with or without the domain")
    func barePCI() throws {
        let full = try PortSpec(parsing: "0000:01:10.0")
        let short = try PortSpec(parsing: "01:10.0,queues=4")
        guard case .pci(let a) = full.kind, case .pci(let b) = short.kind else {
            Issue.record("not pci")
            return
        }
        #expect(a.address.description == "0000:01:10.0")
        #expect(b.address == a.address)
        #expect(b.queues == 4)
    }

    @Test("sim: with defaults as Linux sets them, and with every setting")
    func sim() throws {
        let plain = try PortSpec(parsing: "sim:igbvf")
        var defaults = SimPortSettings(family: .igbvf)
        defaults.spoofCheck = true
        defaults.trusted = false
        #expect(plain.kind == .sim(defaults))

        let full = try PortSpec(parsing: "sim:x550vf,name=vf0,rx=in.pcap,loop=0,tx=out.pcap,link=vf1,queues=4,spoofchk=off,trust=on,mac=02:aa:bb:cc:dd:ee")
        var expected = SimPortSettings(family: .x550vf)
        expected.name = "vf0"
        expected.rxFile = "in.pcap"
        expected.loop = 0
        expected.txFile = "out.pcap"
        expected.link = "vf1"
        expected.queues = 4
        expected.spoofCheck = false
        expected.trusted = true
        expected.mac = MACAddress(0x02, 0xaa, 0xbb, 0xcc, 0xdd, 0xee)
        #expect(full.kind == .sim(expected))

        let driver = try PortSpec(parsing: "sim:ixgbevf,rx=in.pcap,pause=off,rxd=1024,txd=256,mtu=9000,promisc=on,allmulti=on,vlan=100")
        var withDriver = SimPortSettings(family: .ixgbevf)
        withDriver.rxFile = "in.pcap"
        withDriver.pause = false
        withDriver.rxDescriptors = 1024
        withDriver.txDescriptors = 256
        withDriver.mtu = 9000
        withDriver.promiscuous = true
        withDriver.allMulticast = true
        withDriver.vlans = [100]
        #expect(driver.kind == .sim(withDriver))
    }

    @Test("pcap: rx, tx, both, loop")
    func pcap() throws {
        #expect(try PortSpec(parsing: "pcap:rx=a.pcap").kind == .pcap(PcapPortSettings(rxFile: "a.pcap")))
        #expect(try PortSpec(parsing: "pcap:tx=b.pcap").kind == .pcap(PcapPortSettings(txFile: "b.pcap")))
        #expect(try PortSpec(parsing: "pcap:rx=a.pcap,tx=b.pcap,loop=5").kind
                == .pcap(PcapPortSettings(rxFile: "a.pcap", txFile: "b.pcap", loop: 5)))
        #expect(try PortSpec(parsing: "pcap:tx=/tmp/x y.pcap,rx=dir/in.pcap").kind
                == .pcap(PcapPortSettings(rxFile: "dir/in.pcap", txFile: "/tmp/x y.pcap")))
    }

    /// Each bad spec: the problem, and the caret line under exactly the bad part.
    @Test("bad specs point at the bad part and say what is allowed", arguments: [
        ("pci:0000:01:10.0,rdx=512", "unknown setting 'rdx'", "                 ^^^", "pci options:"),
        ("pci:0000:01:32.0", "'0000:01:32.0' is not a PCI address", "    ^^^^^^^^^^^^", "a PCI address is"),
        ("pci:01:10.0,rxd=100", "rxd=100: rxd must be a multiple of 8 from 32 to 4096", "                ^^^", "pci options:"),
        ("pci:01:10.0,promisc=yes", "promisc=yes: promisc must be on or off", "                    ^^^", "pci options:"),
        ("pci:01:10.0,mac=01:00:5e:00:00:01", "mac=01:00:5e:00:00:01: a port's MAC address must be unicast and not all zeros", "                ^^^^^^^^^^^^^^^^^", "pci options:"),
        ("pci:01:10.0,vlan=4096", "vlan=4096: vlan must be a whole number from 0 to 4095", "                 ^^^^", "pci options:"),
        ("pci:01:10.0,queues=2,queues=4", "'queues' is given twice", "                     ^^^^^^^^", "pci options:"),
        ("sim:e1000", "unknown simulated VF family 'e1000'", "    ^^^^^", "families: ixgbevf, x550vf, igbvf"),
        ("sim:", "the simulated VF family is missing", "    ^", "families:"),
        ("sim:ixgbevf,loop=3", "loop= repeats the rx= capture, and there is none", "            ^^^^^^", "sim options:"),
        ("sim:ixgbevf,name=a b", "name=a b: a name is letters, digits, '-' and '_'", "                 ^^^", "sim options:"),
        ("sim:ixgbevf,,rx=a.pcap", "empty setting (two commas, or a comma at the end)", "            ^", "sim options:"),
        ("pcap:", "a pcap port needs rx=FILE, tx=FILE or both", "     ^", "pcap options:"),
        ("pcap:loop=2", "loop= repeats the rx= capture, and there is none", "     ^^^^^^", "pcap options:"),
        ("pcap:rx=a.pcap,speed=10", "unknown setting 'speed'", "               ^^^^^", "pcap options:"),
        ("pcap:rx=", "rx=: the file name is missing", "        ^", "pcap options:"),
        ("pcap:rx=a.pcap,tx", "'tx' is not KEY=VALUE", "               ^^", "pcap options:"),
        ("vfio:01:10.0", "unknown port kind 'vfio'", "^^^^", "a port spec is one of:"),
        ("eth0", "'eth0' is neither a PCI address nor a kind:settings spec", "^^^^", "a port spec is one of:"),
        ("", "the spec is empty", "^", "a port spec is one of:"),
    ])
    func badSpec(spec: String, problem: String, carets: String, allowed: String) {
        var caught: PortSpecError?
        do { _ = try PortSpec(parsing: spec) } catch { caught = error }
        guard let caught else {
            Issue.record("'\(spec)' parsed")
            return
        }
        let lines = caught.description.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        #expect(lines.count == 4)
        #expect(lines[0] == "bad port spec: " + problem)
        #expect(lines[1] == "  " + spec)
        #expect(lines[2] == "  " + carets)
        #expect(lines[3].hasPrefix("  " + allowed))
    }

    @Test("the openers seam: pcap: opens, a kind without an opener is a clear error, registered openers are used")
    func openers() throws {
        let standard = PortOpeners.standard
        #expect(standard.kinds == ["pcap"])
        let sim = try PortSpec(parsing: "sim:ixgbevf")
        #expect(throws: PortOpenError.kindNotAvailable(spec: "sim:ixgbevf", kind: "sim", available: ["pcap"])) {
            _ = try standard.open(sim)
        }
        var extended = standard
        extended.register(kind: "sim") { spec, number in
            try standard.open(PortSpec(parsing: "pcap:tx=/dev/null"), portNumber: number)
        }
        let port = try extended.open(sim, portNumber: 3)
        #expect(port.macAddress == MACAddress(0x02, 0x70, 0x63, 0x61, 0x70, 3))
        port.close()
    }
}
