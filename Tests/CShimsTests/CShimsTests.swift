import CShims
import Testing

/// The VFIO structs as Swift imports them have the kernel's sizes, and the shims behave.
struct CShimsTests {
    @Test func vfioStructSizesMatchTheKernelHeader() {
        #expect(MemoryLayout<vfio_group_status>.size == vfpmd_sizeof_vfio_group_status())
        #expect(MemoryLayout<vfio_group_status>.size == 8)
        #expect(MemoryLayout<vfio_device_info>.size == vfpmd_sizeof_vfio_device_info())
        #expect(MemoryLayout<vfio_region_info>.size == vfpmd_sizeof_vfio_region_info())
        #expect(MemoryLayout<vfio_region_info>.size == 32)
        #expect(MemoryLayout<vfio_iommu_type1_info>.size == vfpmd_sizeof_vfio_iommu_type1_info())
        #expect(MemoryLayout<vfio_iommu_type1_dma_map>.size == vfpmd_sizeof_vfio_iommu_type1_dma_map())
        #expect(MemoryLayout<vfio_iommu_type1_dma_map>.size == 32)
        #expect(MemoryLayout<vfio_iommu_type1_dma_unmap>.size == vfpmd_sizeof_vfio_iommu_type1_dma_unmap())
        #expect(MemoryLayout<vfio_info_cap_header>.size == vfpmd_sizeof_vfio_info_cap_header())
        #expect(MemoryLayout<vfio_iova_range>.size == vfpmd_sizeof_vfio_iova_range())
    }

    @Test func vfioRequestNumbersAreTheKernelEncoding() {
        // _IO(';', 100 + n): type 0x3B in bits 15:8, number in bits 7:0, no size, no direction.
        #expect(vfpmd_VFIO_GET_API_VERSION() == 0x3B64)
        #expect(vfpmd_VFIO_CHECK_EXTENSION() == 0x3B65)
        #expect(vfpmd_VFIO_SET_IOMMU() == 0x3B66)
        #expect(vfpmd_VFIO_GROUP_GET_STATUS() == 0x3B67)
        #expect(vfpmd_VFIO_IOMMU_MAP_DMA() == 0x3B71)
        #expect(vfpmd_VFIO_IOMMU_UNMAP_DMA() == 0x3B72)
    }

    @Test func volatileAccessesReadWhatWasWritten() {
        let word = UnsafeMutableRawPointer.allocate(byteCount: 8, alignment: 8)
        defer { word.deallocate() }
        vfpmd_mmio_write32(word, 0xDEAD_BEEF)
        #expect(vfpmd_mmio_read32(word) == 0xDEAD_BEEF)
        vfpmd_store_release32(word + 4, 7)
        #expect(vfpmd_load_acquire32(word + 4) == 7)
        #expect(vfpmd_cas32(word + 4, 7, 9) == 1)
        #expect(vfpmd_cas32(word + 4, 7, 11) == 0)
        #expect(vfpmd_load_acquire32(word + 4) == 9)
    }

    @Test func timeStampCounterAdvances() {
        let a = vfpmd_rdtsc()
        vfpmd_pause()
        vfpmd_full_fence()
        let b = vfpmd_rdtsc()
        #expect(b > a)
    }
}
