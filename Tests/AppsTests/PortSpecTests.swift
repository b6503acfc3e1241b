import PMDCore
import Testing
import PCISysfs
import VFDriver
import VFSimulator
@testable import Apps

@Suite("Port specs: one grammar for pci:, bare PCI addresses, sim:, pcap:")
struct PortSpecTests {
    @Test("pci: with every setting")
    func pciFull() throws {
        let spec = try PortSpec(parsing: "pci:0000:03:10.1,queues=2,rxd=1024,txd=512,mtu=9000,promisc=on,allmulti=on,vlan=100,mac=02:00:00:00:00:05")
        var expected = VFPortConfiguration()
        expected.queues = 2
        expected.rxDescriptors = 1024
        expected.txDescriptors = 512
        expected.mtu = 9000
        expected.promiscuous = true
        expected.allMulticast = true
        expected.vlanIDs = [100]
        expected.mac = MACAddress(2, 0, 0, 0, 0, 5)
        #expect(spec.kind == .pci(address: PCIAddress(domain: 0, bus: 3, device: 0x10, function: 1)!, driver: expected, noIOMMU: false))
        #expect(spec.kindName == "pci")
    }

    @Test("a bare PCI address is pci:, with or without the domain")
    func barePCI() throws {
        let full = try PortSpec(parsing: "0000:01:10.0")
        let short = try PortSpec(parsing: "01:10.0,queues=4")
        guard case let .pci(a, _, _) = full.kind, case let .pci(b, driver, _) = short.kind else {
            Issue.record("not pci")
            return
        }
        #expect(a.description == "0000:01:10.0")
        #expect(b == a)
        #expect(driver.queues == 4)
    }

    @Test("noiommu=on in a pci: spec, or a command's --no-iommu, allows a no-IOMMU group; other kinds stay as they are")
    func noIOMMUConsent() throws {
        let address = PCIAddress(domain: 0, bus: 1, device: 0x10, function: 0)!
        #expect(try PortSpec(parsing: "pci:01:10.0").kind == .pci(address: address, driver: VFPortConfiguration(), noIOMMU: false))
        #expect(try PortSpec(parsing: "pci:01:10.0,noiommu=on").kind == .pci(address: address, driver: VFPortConfiguration(), noIOMMU: true))
        #expect(try PortSpec(parsing: "01:10.0,noiommu=off").allowingNoIOMMU(false).kind
            == .pci(address: address, driver: VFPortConfiguration(), noIOMMU: false))
        #expect(try PortSpec(parsing: "01:10.0").allowingNoIOMMU(true).kind
            == .pci(address: address, driver: VFPortConfiguration(), noIOMMU: true))
        #expect(try PortSpec(parsing: "01:10.0,noiommu=on").allowingNoIOMMU(false).kind
            == .pci(address: address, driver: VFPortConfiguration(), noIOMMU: true))
        let sim = try PortSpec(parsing: "sim:igbvf")
        #expect(sim.allowingNoIOMMU(true) == sim)
    }

    @Test("sim: with defaults as Linux sets them, and with every setting")
    func sim() throws {
        let plain = try PortSpec(parsing: "sim:igbvf")
        var defaults = SimulatedVFSettings(family: .igb82576)
        defaults.spoofCheck = true
        defaults.trusted = false
        #expect(plain.kind == .sim(defaults, driver: SimulatedVFSettings.driverDefaults))

        let full = try PortSpec(parsing: "sim:x550vf,name=vf0,rx=in.pcap,loop=0,tx=out.pcap,link=vf1,queues=4,spoofchk=off,trust=on,mac=02:aa:bb:cc:dd:ee")
        var expected = SimulatedVFSettings(family: .ixgbeX550)
        expected.name = "vf0"
        expected.rxFile = "in.pcap"
        expected.loop = 0
        expected.txFile = "out.pcap"
        expected.link = "vf1"
        expected.spoofCheck = false
        expected.trusted = true
        expected.mac = MACAddress(0x02, 0xaa, 0xbb, 0xcc, 0xdd, 0xee)
        var fourQueues = SimulatedVFSettings.driverDefaults
        fourQueues.queues = 4
        #expect(full.kind == .sim(expected, driver: fourQueues))

        let driver = try PortSpec(parsing: "sim:ixgbevf,rx=in.pcap,pause=off,rxd=1024,txd=256,mtu=9000,promisc=on,allmulti=on,vlan=100")
        var wire = SimulatedVFSettings(family: .ixgbe82599)
        wire.rxFile = "in.pcap"
        wire.pause = false
        var withDriver = SimulatedVFSettings.driverDefaults
        withDriver.rxDescriptors = 1024
        withDriver.txDescriptors = 256
        withDriver.mtu = 9000
        withDriver.promiscuous = true
        withDriver.allMulticast = true
        withDriver.vlanIDs = [100]
        #expect(driver.kind == .sim(wire, driver: withDriver))
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
        ("pci:01:10.0,rxd=100", "rxd=100: rxd must be a multiple of 8 from 64 to 4096", "                ^^^", "pci options:"),
        ("pci:01:10.0,promisc=yes", "promisc=yes: promisc must be on or off", "                    ^^^", "pci options:"),
        ("pci:01:10.0,mac=01:00:5e:00:00:01", "mac=01:00:5e:00:00:01: a port's MAC address must be unicast and not all zeros", "                ^^^^^^^^^^^^^^^^^", "pci options:"),
        ("pci:01:10.0,vlan=4095", "vlan=4095: vlan must be a whole number from 1 to 4094", "                 ^^^^", "pci options:"),
        ("pci:01:10.0,queues=2,queues=4", "'queues' is given twice", "                     ^^^^^^^^", "pci options:"),
        ("pci:01:10.0,noiommu=yes", "noiommu=yes: noiommu must be on or off", "                    ^^^", "pci options:"),
        ("sim:ixgbevf,noiommu=on", "unknown setting 'noiommu'", "            ^^^^^^^", "sim options:"),
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

    @Test("the parser's ranges are the driver's: what parses, the driver accepts; the ends of each range parse")
    func rangesAgreeWithTheDriver() throws {
        let rings = VFPortConfiguration.descriptorRange, mtu = VFPortConfiguration.mtuRange
        let vlan = VFPortConfiguration.vlanRange
        let accepted = ["rxd=\(rings.lowerBound)", "rxd=\(rings.upperBound)", "txd=\(rings.upperBound)",
                        "mtu=\(mtu.lowerBound)", "mtu=\(mtu.upperBound)", "vlan=\(vlan.lowerBound)", "vlan=\(vlan.upperBound)",
                        "queues=1", "queues=\(VFPortConfiguration.maxQueues)"]
        for option in accepted {
            let spec = try PortSpec(parsing: "sim:x550vf,\(option)")
            guard case let .sim(_, driver) = spec.kind else { Issue.record("not sim"); continue }
            #expect(throws: Never.self, "\(option) parses but the driver refuses it") {
                try driver.validateRanges()
            }
        }
        let refused = ["rxd=\(rings.lowerBound - 8)", "rxd=\(rings.upperBound + 8)", "mtu=\(mtu.lowerBound - 1)",
                       "mtu=\(mtu.upperBound + 1)", "vlan=0", "vlan=\(vlan.upperBound + 1)", "queues=0",
                       "queues=\(VFPortConfiguration.maxQueues + 1)"]
        for option in refused {
            #expect(throws: PortSpecError.self, "\(option) parses") { _ = try PortSpec(parsing: "pci:01:10.0,\(option)") }
        }
    }

    @Test("one switch opens every kind: a pcap: spec opens a pcap port numbered by its position")
    func opening() throws {
        let opened = try OpenedPort.open(PortSpec(parsing: "pcap:tx=/dev/null"), number: 3)
        #expect(opened.port.macAddress == MACAddress(0x02, 0x70, 0x63, 0x61, 0x70, 3))
        #expect(opened.spec == "pcap:tx=/dev/null")
        #expect(OpenedPort.closeAll([opened]).isEmpty)
    }

    @Test("a PF's refusal is worded for the kind of port: ip link for pci:, spec settings for sim:")
    func refusalWording() throws {
        let refusal = VFDriverError.refusedByPF(address: "0000:01:10.0", what: "promiscuous mode", reason: .untrusted(promiscuous: true))
        let pci = try PortSpec(parsing: "pci:01:10.0,promisc=on")
        let sim = try PortSpec(parsing: "sim:x550vf,promisc=on")
        let forPCI = PortOpenError(spec: pci, error: refusal).description
        let forSim = PortOpenError(spec: sim, error: refusal).description
        #expect(forPCI.contains("`ip link set <PF> vf <N> trust on`") && forPCI.contains("promisc on"))
        #expect(forSim.hasPrefix("sim:x550vf,promisc=on: ") && forSim.contains("trust=on") && !forSim.contains("ip link"))
        let mac = VFDriverError.refusedByPF(address: "sim:a", what: "the MAC address 02:00:00:00:00:09",
                                            reason: .macFixed(wanted: MACAddress(2, 0, 0, 0, 0, 9)))
        #expect(PortOpenError(spec: sim, error: mac).description.contains("mac=02:00:00:00:00:09"))
        #expect(PortOpenError(spec: pci, error: mac).description.contains("`ip link set <PF> vf <N> mac 02:00:00:00:00:09`"))
    }

    @Test("a cable to no VF, or to the VF itself, is refused when the ports open, and nothing stays open",
          arguments: [["sim:ixgbevf,name=a,link=nobody"], ["sim:ixgbevf,name=a,link=b", "sim:ixgbevf,name=c"],
                      ["sim:igbvf,name=a,link=a"]])
    func danglingLinks(specs: [String]) throws {
        let lab = SimulatedLab()
        do {
            _ = try OpenedPort.openAll(specs.map { try PortSpec(parsing: $0) }, lab: lab)
            Issue.record("\(specs) opened")
        } catch let error as PortOpenError {
            #expect(error.description.hasPrefix(specs[0] + ": link="))
        }
        // Every VF was released: the names are free again.
        let again = try OpenedPort.open(PortSpec(parsing: "sim:ixgbevf,name=a"), lab: lab)
        #expect(OpenedPort.closeAll([again]).isEmpty)
    }

    @Test("a sim: port whose PF does not trust it is refused promiscuous mode with the spec's remedy")
    func simulatedRefusalEndToEnd() throws {
        do {
            let port = try OpenedPort.open(PortSpec(parsing: "sim:x550vf,name=refused,promisc=on"), lab: SimulatedLab())
            _ = OpenedPort.closeAll([port])
            Issue.record("an untrusted simulated VF got promiscuous mode")
        } catch {
            #expect("\(error)".contains("trust=on"))
            #expect(!"\(error)".contains("ip link"))
        }
    }
}
