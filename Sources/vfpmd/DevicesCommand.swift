import ArgumentParser
import Foundation
import PCISysfs

/// `vfpmd devices`: the supported Intel PFs and VFs of this machine, as a table or JSON.
struct DevicesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "devices",
        abstract: "List the supported Intel PFs and VFs: driver, IOMMU group, netdev, SR-IOV state.")

    @OptionGroup var global: GlobalOptions
    @OptionGroup var sysfsOptions: SysfsOptions

    @Flag(name: .long, help: "Print a JSON array instead of the table.")
    var json = false

    func run() throws {
        global.bootstrapLogging()
        let devices = DeviceDiscovery(sysfs: sysfsOptions.sysfs).supportedDevices()
        if json && devices.isEmpty {
            print("[]")
        } else if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            let data = try encoder.encode(devices)
            print(String(decoding: data, as: UTF8.self))
        } else if devices.isEmpty {
            print("no supported Intel network devices found")
        } else {
            print(Self.table(devices))
        }
    }

    /// The table: one line per device, then one line per IOMMU group shared by several devices.
    static func table(_ devices: [PCIDeviceRecord]) -> String {
        let header = ["ADDRESS", "ID", "FAMILY", "MODEL", "PF", "VF", "GROUP", "DRIVER", "NETDEV", "NUMA", "VFS"]
        let rows = devices.map { d -> [String] in
            let netdev = d.netdev.map { name in "\(name) (\(d.netdevIsUp ? "up" : (d.operstate ?? "down")))" }
            let vfs = d.sriovTotalVFs.map { "\(d.sriovNumVFs ?? 0)/\($0)" }
            return [
                d.address.description, d.pciID, d.family.rawValue, d.supported.model,
                d.physicalFunction?.description ?? (d.role == .pf ? "(PF)" : "-"),
                d.vfIndex.map(String.init) ?? "-",
                d.iommuGroup.map { d.inNoIOMMUGroup ? "noiommu-\($0)" : String($0) } ?? "none",
                d.driver ?? "-", netdev ?? "-", d.numaNode.map(String.init) ?? "-", vfs ?? "-",
            ]
        }
        let widths = header.indices.map { column in
            ([header] + rows).map { $0[column].count }.max() ?? 0
        }
        func line(_ cells: [String]) -> String {
            cells.enumerated().map { i, cell in
                i == cells.count - 1 ? cell : cell + String(repeating: " ", count: widths[i] - cell.count)
            }.joined(separator: "  ")
        }
        var lines = [line(header)] + rows.map(line)
        var seen = Set<Int>()
        for device in devices {
            guard let group = device.iommuGroup, device.iommuGroupMembers.count > 1, seen.insert(group).inserted else { continue }
            lines.append("IOMMU group \(group) is shared: " + device.iommuGroupMembers.map(\.description).joined(separator: ", "))
        }
        if devices.contains(where: \.inNoIOMMUGroup) {
            lines.append("group noiommu-N: a no-IOMMU group (no IOMMU checks the VF's DMA; unsafe): open it with --no-iommu or noiommu=on in its pci: spec")
        }
        if devices.contains(where: { $0.iommuGroup == nil }) {
            lines.append("group none: the IOMMU is off; boot with intel_iommu=on (or amd_iommu=on) to use VFIO with an IOMMU")
        }
        return lines.joined(separator: "\n")
    }
}
