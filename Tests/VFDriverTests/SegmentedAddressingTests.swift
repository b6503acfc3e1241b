import DriverTestSupport
import PMDCore
import Testing
import VFDriver
import VFSimulator

/// The driver on a bus without IOMMU, modelled by a container that gives each 16 KiB segment of
/// a region an address of its own, in descending order with gaps: the same driver and bursts,
/// only the addresses in the descriptors differ, and a buffer that crossed a segment would
/// fault in the model.
struct SegmentedAddressingTests {
    static let segment = 16 * 1024

    static func setup(_ family: SimulatedFamily) -> SimulatedSetup {
        SimulatedSetup(family, container: SimulatedContainer(segmentSize: segment))
    }

    @Test(arguments: allFamilies)
    func framesArriveAndLeaveByteExact(family: SimulatedFamily) throws {
        let setup = Self.setup(family)
        let port = try setup.open()
        let pool = port.receivePools[0]
        // The table is in use: two buffers in different segments are not a stride apart.
        let addresses = try #require(pool.region.deviceAddresses)
        #expect(addresses.segmentSize == Self.segment && addresses.bases.count > 1)
        #expect(addresses.bases == addresses.bases.sorted(by: >))
        let a = pool.layout.usableSlots[0], b = try #require(pool.layout.usableSlots.first { Int($0) * pool.layout.stride >= Self.segment })
        #expect(pool.ref.iova(b) != pool.ref.iova(a) + UInt64(Int(b - a) * pool.layout.stride))
        #expect(pool.ref.iova(b) == addresses.bases[1] + UInt64(Int(b) * pool.layout.stride % Self.segment) + 128)

        var g = SystemRandomNumberGenerator()
        let incoming = (0..<600).map { udpFrame(to: assignedMAC, length: Int.random(in: 60...1514, using: &g), sequence: $0) }
        let received = setup.deliver(incoming, to: port)
        #expect(received.count == incoming.count && difference(received, incoming) == nil)

        let txPool = try Mempool(name: "segmented tx", capacity: 1024, pages: .smallPages, segmentSize: Self.segment)
        try port.mapForTransmit(txPool)
        let outgoing = (0..<600).map {
            udpFrame(to: peerMAC, from: assignedMAC, length: Int.random(in: 60...1514, using: &g), sequence: $0)
        }
        #expect(setup.transmit(port, outgoing, from: txPool) == outgoing.count)
        #expect(difference(setup.sentFrames(), outgoing) == nil)
        port.reclaimTransmitted(queue: 0)
        setup.expectCleanRun()
        closeAndExpectWholePools(port, extra: [txPool])
    }

    @Test func aPoolThatIgnoresTheSegmentsIsRefusedForTransmit() throws {
        let setup = Self.setup(.igb82576)
        let port = try setup.open()
        let pool = try Mempool(name: "flat", capacity: 64, pages: .smallPages)
        #expect {
            try port.mapForTransmit(pool)
        } throws: { error in
            "\(error)" == "cannot map DMA memory for VF \(setup.vf.address): the buffers of pool flat may cross the 16 KiB segments the VF addresses memory in (no IOMMU): make the pool in hugepages"
        }
        #expect(pool.region.deviceAddresses == nil)
        closeAndExpectWholePools(port)
    }

    @Test func aRingLargerThanASegmentIsRefused() throws {
        let setup = SimulatedSetup(.ixgbe82599, container: SimulatedContainer(segmentSize: 4096))
        #expect {
            _ = try setup.open(.small(rx: 512, tx: 128, pool: 1024))
        } throws: { error in
            "\(error)".contains("a ring of 8192 bytes does not fit in one 4 KiB segment of the device's addresses: use fewer descriptors")
        }
    }
}
