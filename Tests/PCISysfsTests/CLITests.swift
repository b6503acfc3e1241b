import Foundation
import SysfsTestSupport
import Testing

/// The device commands as a user runs them: the built `vfpmd` binary, its output, its exit
/// status, and what it wrote into a fake sysfs tree.
struct CLITests {
    struct Run {
        let status: Int32
        let stdout: String
        let stderr: String
    }

    /// The `vfpmd` binary next to the test bundle (both are built by `swift build --build-tests`).
    static func binary() throws -> String {
        let candidates = [
            URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("vfpmd").path,
            URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
                .deletingLastPathComponent().appendingPathComponent(".build/debug/vfpmd").path,
        ]
        let found = candidates.first { FileManager.default.isExecutableFile(atPath: $0) }
        return try #require(found, "vfpmd is not built: run `swift build --build-tests` first")
    }

    static func vfpmd(_ arguments: [String]) throws -> Run {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try binary())
        process.arguments = arguments
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Run(status: process.terminationStatus, stdout: String(decoding: stdout, as: UTF8.self),
                   stderr: String(decoding: stderr, as: UTF8.self))
    }

    /// A failure is one `error:` line per device, with no usage text and no crash trace.
    static func isCleanFailure(_ run: Run, lines: Int = 1) -> Bool {
        let errorLines = run.stderr.split(separator: "\n")
        return run.status == 1 && errorLines.count == lines && errorLines.allSatisfy { $0.hasPrefix("error: ") }
            && !run.stderr.contains("Usage") && !run.stderr.contains("Fatal error")
    }

    @Test func onThisMachineDevicesSaysThereAreNoneAndSucceeds() throws {
        let run = try Self.vfpmd(["devices"])
        #expect(run.status == 0)
        #expect(run.stdout == "no supported Intel network devices found\n")
        #expect(run.stderr.isEmpty)
        let json = try Self.vfpmd(["devices", "--json"])
        #expect(json.status == 0 && json.stdout == "[]\n")
    }

    @Test func devicesPrintsTheTableOfTheFakeTree() throws {
        let fake = FakeSysfs.standard()
        let run = try Self.vfpmd(["devices", "--sysfs-root", fake.root])
        #expect(run.status == 0 && run.stderr.isEmpty)
        let lines = run.stdout.split(separator: "\n").map(String.init)
        #expect(lines.first?.hasPrefix("ADDRESS       ID         FAMILY   MODEL") == true)
        #expect(lines.count == 1 + 7 + 2)
        let vf = try #require(lines.first { $0.hasPrefix("0000:00:11.0") })
        #expect(vf.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
            == ["0000:00:11.0", "8086:10ca", "igbvf", "82576", "VF", "0000:00:01.0", "0", "4", "igbvf", "eth1", "(down)", "-", "-"])
        let pf = try #require(lines.first { $0.hasPrefix("0000:00:01.0") })
        #expect(pf.hasSuffix("eth0 (up)    -     2/7"))
        #expect(lines.contains("IOMMU group 9 is shared: 0000:03:10.0 (vfio-pci), 0000:03:10.2 (ixgbevf)"))
        #expect(lines.last == "group none: the IOMMU is off; boot with intel_iommu=on (or amd_iommu=on) to use VFIO with an IOMMU")
    }

    @Test func devicesJSONIsAnArrayOfEveryDevice() throws {
        let fake = FakeSysfs.standard()
        let run = try Self.vfpmd(["devices", "--json", "--sysfs-root", fake.root])
        #expect(run.status == 0)
        let array = try #require(try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [[String: Any]])
        #expect(array.count == 7)
        #expect(array.map { $0["address"] as? String } == [
            "0000:00:01.0", "0000:00:11.0", "0000:00:11.2", "0000:03:00.0", "0000:03:10.0", "0000:03:10.2", "0000:04:10.0",
        ])
        #expect(array[0]["sriov_numvfs"] as? Int == 2 && array[0]["netdev_up"] as? Bool == true)
    }

    @Test func devicesShowsANoIOMMUGroupAsSuch() throws {
        let fake = FakeSysfs.standard()
        fake.bindInNoIOMMUGroup("0000:04:10.0", group: 0)
        let run = try Self.vfpmd(["devices", "--sysfs-root", fake.root])
        #expect(run.status == 0 && run.stderr.isEmpty)
        let lines = run.stdout.split(separator: "\n").map(String.init)
        let vf = try #require(lines.first { $0.hasPrefix("0000:04:10.0") })
        #expect(vf.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
            == ["0000:04:10.0", "8086:1515", "ixgbevf", "X540", "VF", "-", "-", "noiommu-0", "vfio-pci", "-", "-", "-"])
        #expect(lines.contains("group noiommu-N: a no-IOMMU group (no IOMMU checks the VF's DMA; unsafe): open it with --no-iommu or noiommu=on in its pci: spec"))
        #expect(!lines.contains { $0.hasPrefix("group none") })

        let json = try Self.vfpmd(["devices", "--json", "--sysfs-root", fake.root])
        let array = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [[String: Any]])
        let record = try #require(array.first { $0["address"] as? String == "0000:04:10.0" })
        #expect(record["iommu_group"] as? Int == 0 && record["noiommu_group"] as? Bool == true)
        #expect(array.filter { $0["noiommu_group"] as? Bool == false }.count == 6)
    }

    @Test func bindFailuresAreOneSentenceEachAndExitNonZero() throws {
        let fake = FakeSysfs.standard()
        let unsupported = try Self.vfpmd(["bind", "00:02.0", "--sysfs-root", fake.root])
        #expect(Self.isCleanFailure(unsupported))
        #expect(unsupported.stderr == "error: 0000:00:02.0 (1af4:1042) is not a supported device: vfpmd drives Intel 82599/X540/X550 VFs (ixgbevf) and 82576/I350 VFs (igbvf); see `vfpmd devices`\n")

        let two = try Self.vfpmd(["bind", "zz", "03:10.2", "--sysfs-root", fake.root])
        #expect(Self.isCleanFailure(two, lines: 2))
        #expect(two.stderr.contains("error: 'zz' is not a PCI address"))
        #expect(two.stderr.contains("error: 0000:03:10.2 is in use by the kernel: its interface eth3 is up"))

        let missing = try Self.vfpmd(["bind", "0000:0b:00.0"])
        #expect(Self.isCleanFailure(missing))
        #expect(missing.stderr.hasPrefix("error: no PCI device 0000:0b:00.0"))
    }

    @Test func bindWritesTheAttributesAndReportsAKernelThatDidNotBind() throws {
        // The fake tree has no kernel behind it: the files receive the writes, but the driver
        // link stays, which is what a refusing kernel looks like.
        let fake = FakeSysfs.standard()
        let run = try Self.vfpmd(["bind", "00:11.0", "--sysfs-root", fake.root])
        #expect(Self.isCleanFailure(run))
        #expect(run.stderr == "error: 0000:00:11.0 did not bind to vfio-pci (now bound to igbvf): see `dmesg` for the kernel's reason or load it with `modprobe vfio-pci`\n")
        #expect(fake.read("bus/pci/devices/0000:00:11.0/driver_override") == "vfio-pci")
        #expect(fake.read("bus/pci/drivers/igbvf/unbind") == "0000:00:11.0")
        #expect(fake.read("bus/pci/drivers_probe") == "0000:00:11.0")
    }

    @Test func sriovWritesZeroThenTheNewCount() throws {
        let fake = FakeSysfs.standard()
        let run = try Self.vfpmd(["sriov", "00:01.0", "--vfs", "4", "--sysfs-root", fake.root])
        #expect(run.status == 0 && run.stderr.isEmpty)
        #expect(run.stdout.hasPrefix("0000:00:01.0: 2 -> 4 VFs\n"))
        #expect(fake.read("bus/pci/devices/0000:00:01.0/sriov_numvfs") == "4")

        let tooMany = try Self.vfpmd(["sriov", "00:01.0", "--vfs", "9", "--sysfs-root", fake.root])
        #expect(Self.isCleanFailure(tooMany))
        #expect(tooMany.stderr == "error: 0000:00:01.0 offers at most 7 VFs, not 9: ask for 0...7\n")

        let vf = try Self.vfpmd(["sriov", "00:11.0", "--vfs", "1", "--sysfs-root", fake.root])
        #expect(Self.isCleanFailure(vf))
    }

    @Test func unbindNamesTheDeviceThatIsMissing() throws {
        let fake = FakeSysfs.standard()
        let run = try Self.vfpmd(["unbind", "00:09.0", "--sysfs-root", fake.root])
        #expect(Self.isCleanFailure(run))
        #expect(run.stderr.hasPrefix("error: no PCI device 0000:00:09.0"))
    }
}
