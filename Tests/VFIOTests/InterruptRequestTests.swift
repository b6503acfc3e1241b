import CShims
import PCISysfs
import Testing
@testable import VFIO

/// The argument of VFIO_DEVICE_SET_IRQS for the MSI-X index, byte for byte where the kernel
/// header puts each field, and the sentences of the interrupt errors.
struct InterruptRequestTests {
    private static func word(_ bytes: [UInt8], at offset: Int) -> UInt32 {
        bytes[offset..<offset + 4].reversed().reduce(0) { $0 << 8 | UInt32($1) }
    }

    @Test func attachingPutsOneEventFDPerVectorWhereTheKernelReadsIt() {
        let bytes = VFIOInterruptRequest.attach([5, nil, 7])
        let data = vfpmd_offsetof_vfio_irq_set_data()
        #expect(VFIOInterruptRequest.headerSize == vfpmd_sizeof_vfio_irq_set() && data == 20)
        #expect(bytes.count == data + 3 * 4)
        #expect(Self.word(bytes, at: 0) == UInt32(bytes.count))  // argsz
        #expect(Self.word(bytes, at: vfpmd_offsetof_vfio_irq_set_flags()) == UInt32(VFIO_IRQ_SET_DATA_EVENTFD) | UInt32(VFIO_IRQ_SET_ACTION_TRIGGER))
        #expect(Self.word(bytes, at: vfpmd_offsetof_vfio_irq_set_flags()) == 0x24)
        #expect(Self.word(bytes, at: vfpmd_offsetof_vfio_irq_set_index()) == 2)  // VFIO_PCI_MSIX_IRQ_INDEX
        #expect(Self.word(bytes, at: vfpmd_offsetof_vfio_irq_set_start()) == 0)
        #expect(Self.word(bytes, at: vfpmd_offsetof_vfio_irq_set_count()) == 3)
        #expect([0, 1, 2].map { Self.word(bytes, at: data + 4 * $0) } == [5, UInt32.max, 7])
    }

    @Test func detachingAllIsDataNoneWithCountZero() {
        let bytes = VFIOInterruptRequest.detachAll()
        #expect(bytes.count == vfpmd_sizeof_vfio_irq_set())
        #expect(Self.word(bytes, at: 0) == 20)
        #expect(Self.word(bytes, at: vfpmd_offsetof_vfio_irq_set_flags()) == 0x21)  // DATA_NONE | ACTION_TRIGGER
        #expect(Self.word(bytes, at: vfpmd_offsetof_vfio_irq_set_index()) == 2)
        #expect(Self.word(bytes, at: vfpmd_offsetof_vfio_irq_set_count()) == 0)
    }

    @Test func interruptRequestNumbersAreTheKernelEncoding() {
        // _IO(';', 100 + 9) and _IO(';', 100 + 10).
        #expect(vfpmd_VFIO_DEVICE_GET_IRQ_INFO() == 0x3B6D)
        #expect(vfpmd_VFIO_DEVICE_SET_IRQS() == 0x3B6E)
        #expect(MemoryLayout<vfio_irq_info>.size == vfpmd_sizeof_vfio_irq_info())
    }

    @Test func interruptErrorsSayWhatIsWrongAndWhatToDo() throws {
        let a = try PCIAddress.parse("0000:03:10.0")
        #expect(VFIOError.interruptVectors(a, wanted: 5, available: 3).description
            == "0000:03:10.0 has only 3 MSI-X vectors but 5 are needed (one per receive queue and one for the mailbox): use fewer queues or poll mode")
        #expect(VFIOError.interruptVectors(a, wanted: 2, available: 0).description
            == "0000:03:10.0 has no MSI-X vectors through vfio-pci but 2 are needed (one per receive queue and one for the mailbox): use fewer queues or poll mode")
        #expect(VFIOError.eventFDNotOpen(a, fd: 42).description
            == "descriptor 42 given as an MSI-X eventfd for 0000:03:10.0 is not open: create the eventfds before attaching them")
        #expect(VFIOError.deviceClosed(a).description == "0000:03:10.0 was already closed: open it again before using it")
    }
}
