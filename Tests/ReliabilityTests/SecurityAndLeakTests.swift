import Foundation
import DriverTestSupport
import PMDCore
import Testing
@testable import VFDriver
import PCISysfs
import VFIO
import VFSimulator

/// What the process holds: resident pages, open file descriptors.
enum ProcessResources {
    static func residentPages() -> Int {
        let text = (try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8)) ?? ""
        let fields = text.split(separator: " ")
        return fields.count > 1 ? Int(fields[1]) ?? -1 : -1
    }

    static func openFileDescriptors() -> Int {
        (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").count) ?? -1
    }
}

/// Cycles that must not grow anything: memory, file descriptors, DMA mappings.
@Suite(.serialized)
struct CycleLeakTests {
    /// 1000 open/close cycles of a port (rings, pools, mappings each time) on one simulated VF.
    @Test func thousandOpenCloseCycles() throws {
        let setup = SimulatedSetup(.ixgbeX550)
        var pages: [Int] = [], fds: [Int] = []
        for cycle in 0..<1000 {
            let port = try setup.open(.small(rx: 64, tx: 64, pool: 256))
            if cycle % 100 == 0 {
                #expect(setup.deliver([udpFrame(to: assignedMAC, length: 64, sequence: cycle)], to: port).count == 1)
            }
            port.close()
            #expect(setup.container.mappedRegionCount == 0, "cycle \(cycle)")
            if cycle == 99 || cycle == 999 {
                pages.append(ProcessResources.residentPages())
                fds.append(ProcessResources.openFileDescriptors())
            }
        }
        // Growth between cycle 100 and cycle 1000, measured on the whole test process while other
        // suites run: under 256 MiB and 64 descriptors of slack for them. One leaked port per
        // cycle would be 900 × 600 KiB (527 MiB); one leaked descriptor per cycle, 900. The soak
        // checks memory and descriptors tightly in a process of its own.
        #expect(pages[1] - pages[0] < 65_536, "resident pages \(pages)")
        #expect(fds[1] - fds[0] < 64, "file descriptors \(fds)")
        setup.expectCleanRun()
    }

    /// 1000 stop/start cycles of one port: every buffer back in the pool at each stop.
    @Test func thousandStartStopCycles() throws {
        let setup = SimulatedSetup(.igb82576)
        let port = try setup.open(.small(rx: 64, tx: 64, pool: 256))
        let mapped = setup.container.mappedRegionCount
        var pages: [Int] = [], fds: [Int] = []
        for cycle in 0..<1000 {
            port.stop()
            #expect(port.rxPools[0].available == port.rxPools[0].capacity, "cycle \(cycle)")
            try port.start()
            if cycle % 100 == 0 {
                #expect(setup.deliver([udpFrame(to: assignedMAC, length: 64, sequence: cycle)], to: port).count == 1)
            }
            #expect(setup.container.mappedRegionCount == mapped)
            if cycle == 99 || cycle == 999 {
                pages.append(ProcessResources.residentPages())
                fds.append(ProcessResources.openFileDescriptors())
            }
        }
        #expect(pages[1] - pages[0] < 65_536, "resident pages \(pages)")
        #expect(fds[1] - fds[0] < 64, "file descriptors \(fds)")
        setup.expectCleanRun()
        closeAndExpectWholePools(port)
        #expect(setup.container.mappedRegionCount == 0)
    }
}

/// The security rules as checks.
struct SecurityTests {
    /// Only the rings and the pools are mapped for the device, and nothing after close.
    @Test(arguments: allFamilies)
    func onlyRingsAndPoolsAreMappedAndAllAreUnmappedOnClose(family: SimulatedFamily) throws {
        let setup = SimulatedSetup(family)
        var config = VFPortConfiguration.small()
        config.queues = family == .igb82576 ? 1 : 2
        setup.vf.configurePF { $0.queuesPerPool = 2 }
        let port = try setup.open(config)
        let queues = port.queueCount
        // Per queue: one RX ring, one TX ring, one RX pool.
        #expect(setup.container.mappedRegionCount == 3 * queues)
        let pool = try transmitPool(for: port)
        #expect(setup.container.mappedRegionCount == 3 * queues + 1)
        #expect(setup.container.references(of: pool.region) == 1)
        closeAndExpectWholePools(port, extra: [pool])
        #expect(setup.container.mappedRegionCount == 0)
    }

    /// A second process opening a VF whose group is open elsewhere: the kernel answers EBUSY on
    /// the group file (or on VFIO_GROUP_GET_DEVICE_FD) and the user reads one sentence saying
    /// the device is busy and how to find the holder. (The proof against a real kernel is the
    /// QEMU VM test; this machine has no /dev/vfio.)
    @Test func aSecondProcessOnTheSameVFGetsDeviceBusy() throws {
        let parsed: PCISysfs.PCIAddress? = .init("0000:03:10.1")
        let address = try #require(parsed)
        let error = VFIOError.forOpen(errno: .resourceBusy, path: "/dev/vfio/42", address: address, missing: .vfioNotAvailable(path: "/dev/vfio/vfio"))
        #expect(error == .deviceBusy(address, path: "/dev/vfio/42"))
        let text = "\(error)"
        #expect(text.hasPrefix("0000:03:10.1 is busy"))
        #expect(text.contains("another process") && text.contains("fuser -v /dev/vfio/42"))
        #expect(!text.contains("\n"))
    }

    /// Only a device bound to vfio-pci passes the preflight; no-IOMMU is never assumed.
    @Test func theVFIOPathRefusesWhatIsNotAVFBoundToVFIOPCI() throws {
        let run = try HostileInputTests.vfpmd(["forward", "--port", "pci:0000:03:10.0", "--port", "sim:x550vf"])
        #expect(run.status == 1)
        #expect(run.messageLines.count == 1 && run.messageLines.first?.hasPrefix("error: ") == true, "\(run.stderr)")
        #expect(!run.stderr.contains("NO-IOMMU"))
    }

    /// Capture files take the process umask: 0666 less the umask, never wider.
    @Test(arguments: [("022", 0o644), ("077", 0o600), ("027", 0o640)])
    func captureFilesFollowTheUmask(mask: String, mode: Int) throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("vfpmd-umask-\(getpid())-\(mask)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let out = dir + "/out.pcap"
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", "umask \(mask) && exec \"$0\" capture --port pcap:rx=pcaps/sizes.pcap -w \"$1\"",
                             try HostileInputTests.binary(), out]
        process.currentDirectoryURL = HostileInputTests.root
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        let attributes = try FileManager.default.attributesOfItem(atPath: out)
        let permissions = (attributes[.posixPermissions] as? NSNumber)?.intValue ?? -1
        #expect(permissions == mode, "mode \(String(permissions, radix: 8)) under umask \(mask)")
        #expect(permissions & 0o002 == 0)
    }
}
