// The non-inline part of the C shims: compile-time checks of the kernel ABI the VFIO layer is
// written against (uapi <linux/vfio.h>), the memlock limit and thread pinning.
#define _GNU_SOURCE 1
#include "cshims.h"
#include <pthread.h>
#include <sched.h>
#include <sys/resource.h>

_Static_assert(sizeof(struct vfio_group_status) == 8, "vfio_group_status");
_Static_assert(sizeof(struct vfio_device_info) >= 16, "vfio_device_info");
_Static_assert(sizeof(struct vfio_region_info) == 32, "vfio_region_info");
_Static_assert(sizeof(struct vfio_iommu_type1_info) >= 16, "vfio_iommu_type1_info");
_Static_assert(sizeof(struct vfio_iommu_type1_dma_map) == 32, "vfio_iommu_type1_dma_map");
_Static_assert(sizeof(struct vfio_iommu_type1_dma_unmap) >= 24, "vfio_iommu_type1_dma_unmap");
_Static_assert(sizeof(struct vfio_info_cap_header) == 8, "vfio_info_cap_header");
_Static_assert(sizeof(struct vfio_iova_range) == 16, "vfio_iova_range");
_Static_assert(sizeof(struct vfio_irq_info) == 16, "vfio_irq_info");
_Static_assert(sizeof(struct vfio_irq_set) == 20, "vfio_irq_set");
_Static_assert(VFPMD_MFD_HUGE_2MB == (21 << MFD_HUGE_SHIFT), "MFD_HUGE_2MB encoding");

uint64_t vfpmd_memlock_limit(void) {
    struct rlimit limit;
    if (getrlimit(RLIMIT_MEMLOCK, &limit) != 0 || limit.rlim_cur == RLIM_INFINITY) return UINT64_MAX;
    return (uint64_t)limit.rlim_cur;
}

int vfpmd_pin_current_thread(int cpu) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    return pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}
