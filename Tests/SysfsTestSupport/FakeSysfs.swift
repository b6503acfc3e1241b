import Foundation
import PCISysfs

/// A sysfs tree built in a temporary directory: PCI devices with vendor/device files, driver
/// links, IOMMU group links, PF/VF links, netdevs, SR-IOV files, as the kernel lays them out.
public final class FakeSysfs {
    /// The tree's root (passed as the sysfs root).
    public let root: String
    /// A /dev root beside it.
    public let devRoot: String

    /// One device to create.
    struct Device {
        var address: String
        var id: (UInt16, UInt16)
        var driver: String?
        var group: Int?
        var pf: String?
        var netdev: (name: String, up: Bool)?
        var numaNode = -1
        var sriov: (total: Int, current: Int)?
    }

    /// An empty tree with the usual drivers and the vfio module (no-IOMMU mode off).
    public init() {
        let base = NSTemporaryDirectory() + "vfpmd-sysfs-\(UUID().uuidString)"
        root = base + "/sys"
        devRoot = base + "/dev"
        mkdir(devRoot)
        for driver in ["igb", "igbvf", "ixgbe", "ixgbevf", "vfio-pci", "virtio-pci"] { addDriver(driver) }
        write("", to: "bus/pci/drivers_probe")
        write("N", to: "module/vfio/parameters/enable_unsafe_noiommu_mode")
    }

    deinit {
        try? FileManager.default.removeItem(atPath: (root as NSString).deletingLastPathComponent)
    }

    /// The tree the tests use: an 82576 PF with two VFs, an 82599 PF with two VFs sharing a
    /// group, an X540 VF without IOMMU group, and a virtio device.
    public static func standard() -> FakeSysfs {
        let fake = FakeSysfs()
        fake.add(Device(address: "0000:00:01.0", id: (0x8086, 0x10C9), driver: "igb", group: 1,
                        netdev: ("eth0", true), sriov: (7, 2)))
        fake.add(Device(address: "0000:00:11.0", id: (0x8086, 0x10CA), driver: "igbvf", group: 4,
                        pf: "0000:00:01.0", netdev: ("eth1", false)))
        fake.add(Device(address: "0000:00:11.2", id: (0x8086, 0x10CA), driver: "vfio-pci", group: 5,
                        pf: "0000:00:01.0"))
        fake.add(Device(address: "0000:03:00.0", id: (0x8086, 0x10FB), driver: "ixgbe", group: 7,
                        netdev: ("eth2", true), numaNode: 0, sriov: (63, 2)))
        fake.add(Device(address: "0000:03:10.0", id: (0x8086, 0x10ED), driver: "vfio-pci", group: 9,
                        pf: "0000:03:00.0", numaNode: 0))
        fake.add(Device(address: "0000:03:10.2", id: (0x8086, 0x10ED), driver: "ixgbevf", group: 9,
                        pf: "0000:03:00.0", netdev: ("eth3", true), numaNode: 0))
        fake.add(Device(address: "0000:04:10.0", id: (0x8086, 0x1515), driver: "ixgbevf", group: nil))
        fake.add(Device(address: "0000:00:02.0", id: (0x1AF4, 0x1042), driver: "virtio-pci", group: 2))
        return fake
    }

    /// The tree as the code under test reads it.
    public var sysfs: Sysfs { Sysfs(root: root) }

    /// The full path of `relative`.
    public func path(_ relative: String) -> String { root + "/" + relative }

    func addDriver(_ name: String) {
        write("", to: "bus/pci/drivers/\(name)/bind")
        write("", to: "bus/pci/drivers/\(name)/unbind")
    }

    /// Unloads driver `name`.
    public func removeDriver(_ name: String) {
        try? FileManager.default.removeItem(atPath: path("bus/pci/drivers/\(name)"))
    }

    func add(_ d: Device) {
        let dir = "bus/pci/devices/\(d.address)"
        write(String(format: "0x%04x", d.id.0), to: dir + "/vendor")
        write(String(format: "0x%04x", d.id.1), to: dir + "/device")
        write("\(d.numaNode)", to: dir + "/numa_node")
        write("(null)", to: dir + "/driver_override")
        if let driver = d.driver { setDriver(d.address, driver) }
        if let group = d.group {
            link(dir + "/iommu_group", to: "../../../../kernel/iommu_groups/\(group)")
            link("kernel/iommu_groups/\(group)/devices/\(d.address)", to: "../../../../bus/pci/devices/\(d.address)")
        }
        if let pf = d.pf {
            link(dir + "/physfn", to: "../\(pf)")
            let index = virtfnCount(pf)
            link("bus/pci/devices/\(pf)/virtfn\(index)", to: "../\(d.address)")
        }
        if let netdev = d.netdev {
            write(netdev.up ? "up" : "down", to: dir + "/net/\(netdev.name)/operstate")
            write(netdev.up ? "0x1003" : "0x1002", to: dir + "/net/\(netdev.name)/flags")
        }
        if let sriov = d.sriov {
            write("\(sriov.total)", to: dir + "/sriov_totalvfs")
            write("\(sriov.current)", to: dir + "/sriov_numvfs")
        }
    }

    func virtfnCount(_ pf: String) -> Int {
        ((try? FileManager.default.contentsOfDirectory(atPath: path("bus/pci/devices/\(pf)"))) ?? [])
            .filter { $0.hasPrefix("virtfn") }.count
    }

    func removeDevice(_ address: String) {
        try? FileManager.default.removeItem(atPath: path("bus/pci/devices/\(address)"))
    }

    /// Binds `address` to `driver` (nil: to none).
    public func setDriver(_ address: String, _ driver: String?) {
        let linkPath = "bus/pci/devices/\(address)/driver"
        try? FileManager.default.removeItem(atPath: path(linkPath))
        if let driver { link(linkPath, to: "../../drivers/\(driver)") }
    }

    /// Binds `address` to vfio-pci in no-IOMMU mode, as the kernel does: vfio makes IOMMU group
    /// `group` for it, named `vfio-noiommu` (its group file is /dev/vfio/noiommu-N).
    public func bindInNoIOMMUGroup(_ address: String, group: Int) {
        setDriver(address, "vfio-pci")
        link("bus/pci/devices/\(address)/iommu_group", to: "../../../../kernel/iommu_groups/\(group)")
        link("kernel/iommu_groups/\(group)/devices/\(address)", to: "../../../../bus/pci/devices/\(address)")
        write("vfio-noiommu\n", to: "kernel/iommu_groups/\(group)/name")
    }

    /// Turns the vfio module's no-IOMMU parameter on or off.
    public func setNoIOMMU(_ on: Bool) { write(on ? "Y" : "N", to: "module/vfio/parameters/enable_unsafe_noiommu_mode") }

    /// The content of the file at `relative`.
    public func read(_ relative: String) -> String? {
        FileManager.default.contents(atPath: path(relative)).map { String(decoding: $0, as: UTF8.self) }
    }

    /// Writes `text` to the file at `relative`, creating its directories.
    public func write(_ text: String, to relative: String) {
        let full = path(relative)
        mkdir((full as NSString).deletingLastPathComponent)
        _ = FileManager.default.createFile(atPath: full, contents: Data(text.utf8))
    }

    func link(_ relative: String, to target: String) {
        let full = path(relative)
        mkdir((full as NSString).deletingLastPathComponent)
        try? FileManager.default.removeItem(atPath: full)
        try! FileManager.default.createSymbolicLink(atPath: full, withDestinationPath: target)
    }

    /// Creates the directory `full` and its parents.
    public func mkdir(_ full: String) {
        try! FileManager.default.createDirectory(atPath: full, withIntermediateDirectories: true)
    }
}

/// Records every sysfs write (as a path relative to the tree's root and the value) and plays
/// the kernel's part: unbind drops the driver link, drivers_probe binds the override (or the
/// family's default driver), sriov_numvfs creates and removes VFs and refuses nonzero-to-
/// nonzero changes with EBUSY, as Linux does.
public final class FakeKernel: SysfsWriter, @unchecked Sendable {
    // Used from one test's thread only.
    let fake: FakeSysfs
    /// Every write, in order: the path relative to the tree's root and the value.
    public private(set) var writes: [(path: String, value: String)] = []
    /// Default drivers the kernel's probe picks by device ID.
    var defaultDrivers: [UInt16: String] = [0x10CA: "igbvf", 0x10ED: "ixgbevf", 0x1515: "ixgbevf"]
    /// Paths whose writes fail with this error.
    public var failures: [String: PCISysfsError] = [:]

    /// A kernel acting on `fake`.
    public init(_ fake: FakeSysfs) { self.fake = fake }

    /// Records the write and does what the kernel would.
    public func write(_ value: String, to path: String) throws(PCISysfsError) {
        precondition(path.hasPrefix(fake.root + "/"), "write outside the tree: \(path)")
        let relative = String(path.dropFirst(fake.root.count + 1))
        writes.append((relative, value))
        if let failure = failures[relative] { throw failure }
        let parts = relative.split(separator: "/").map(String.init)
        if relative == "bus/pci/drivers_probe" {
            probe(value)
        } else if parts.count == 6, parts[4] == "driver", parts[5] == "unbind" {
            fake.setDriver(value, nil)
        } else if parts.last == "sriov_numvfs" {
            try setVFs(pf: parts[3], to: Int(value)!)
        } else {
            fake.write(value, to: relative)
        }
    }

    private func probe(_ address: String) {
        let dir = "bus/pci/devices/\(address)"
        guard FileManager.default.destinationOfSymbolicLinkOrNil(fake.path(dir + "/driver")) == nil else { return }
        let override = (fake.read(dir + "/driver_override") ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        let wanted: String?
        if !override.isEmpty && override != "(null)" {
            wanted = override
        } else {
            let id = UInt16(fake.read(dir + "/device")!.dropFirst(2), radix: 16)!
            wanted = defaultDrivers[id]
        }
        if let wanted, FileManager.default.fileExists(atPath: fake.path("bus/pci/drivers/\(wanted)")) {
            fake.setDriver(address, wanted)
        }
    }

    private func setVFs(pf: String, to count: Int) throws(PCISysfsError) {
        let file = "bus/pci/devices/\(pf)/sriov_numvfs"
        let current = Int(fake.read(file)!.trimmingCharacters(in: .whitespacesAndNewlines))!
        if current != 0 && count != 0 { throw .sysfsWriteFailed(path: fake.path(file), errno: .resourceBusy) }
        let pfDir = "bus/pci/devices/\(pf)"
        for i in 0..<current {
            if let vf = FileManager.default.destinationOfSymbolicLinkOrNil(fake.path(pfDir + "/virtfn\(i)")) {
                fake.removeDevice(String(vf.dropFirst(3)))
            }
            try? FileManager.default.removeItem(atPath: fake.path(pfDir + "/virtfn\(i)"))
        }
        let pfAddress = PCIAddress(pf)!
        for i in 0..<count {
            let vf = PCIAddress(domain: pfAddress.domain, bus: pfAddress.bus, device: 0x10 + UInt8(i / 4), function: UInt8(i % 4 * 2))!
            fake.add(.init(address: vf.description, id: (0x8086, 0x10CA), driver: "igbvf", group: 20 + i, pf: pf))
        }
        fake.write("\(count)", to: file)
    }
}

extension FileManager {
    func destinationOfSymbolicLinkOrNil(_ path: String) -> String? {
        try? destinationOfSymbolicLink(atPath: path)
    }
}
