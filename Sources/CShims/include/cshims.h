// C shims for vfpmd: what Swift cannot say directly.
//
// - Volatile 32-bit MMIO loads and stores (Swift has no `volatile`).
// - CPU barriers: compiler, store (sfence), load (lfence), full (mfence); pause; rdtsc; prefetch.
// - Acquire/release accesses to memory shared with a device model running in another thread.
// - <linux/vfio.h>: its ioctl request numbers are function-like macros that Swift cannot
//   import, so each is wrapped in a function; ioctl itself is variadic, so it is wrapped too.
// - memfd_create with hugetlb flags; the memlock limit and thread pinning (CPU_SET is a
//   macro), which live in cshims.c.
// - <sys/eventfd.h>, which Glibc's Swift module leaves out: the eventfds that carry MSI-X
//   interrupts (one per vector, as VFIO hands them out).
//
// The rest is `static inline __attribute__((always_inline))`: at -O and in debug builds the
// calls disappear into the caller, so the hot path costs the same instructions as C.
#ifndef VFPMD_CSHIMS_H
#define VFPMD_CSHIMS_H

#include <stdint.h>
#include <stddef.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/vfio.h>
#include <linux/memfd.h>

#define VFPMD_INLINE static inline __attribute__((always_inline))

// MARK: - MMIO

// VFPMD_TSAN: set by clang under -fsanitize=thread; Swift code importing this header is built
// with `-Xcc -DVFPMD_TSAN` next to `--sanitize thread` (scripts/test.sh), since the Swift
// compiler's C importer does not see the sanitizer.
#if defined(__has_feature) && !defined(VFPMD_TSAN)
#if __has_feature(thread_sanitizer)
#define VFPMD_TSAN 1
#endif
#endif

#if defined(VFPMD_TSAN)
// Under ThreadSanitizer a register is read and written by the driver's thread and by a
// simulated device's thread: the accesses are made relaxed atomics (still volatile, still one
// 32-bit access, as a device register access is) so that the sanitizer does not take the
// device for a racing thread.
VFPMD_INLINE uint32_t vfpmd_mmio_read32(const void *addr) {
    return __atomic_load_n((const volatile uint32_t *)addr, __ATOMIC_RELAXED);
}
VFPMD_INLINE void vfpmd_mmio_write32(void *addr, uint32_t value) {
    __atomic_store_n((volatile uint32_t *)addr, value, __ATOMIC_RELAXED);
}
#else
/// One volatile 32-bit load from a device register.
VFPMD_INLINE uint32_t vfpmd_mmio_read32(const void *addr) {
    return *(const volatile uint32_t *)addr;
}

/// One volatile 32-bit store to a device register.
VFPMD_INLINE void vfpmd_mmio_write32(void *addr, uint32_t value) {
    *(volatile uint32_t *)addr = value;
}
#endif

// MARK: - Barriers and CPU helpers

/// Stops the compiler from moving memory accesses across this point.
VFPMD_INLINE void vfpmd_compiler_barrier(void) { __asm__ __volatile__("" ::: "memory"); }

#if defined(__x86_64__)
/// Store barrier: every earlier store is visible before any later one (wmb before a tail write).
VFPMD_INLINE void vfpmd_write_fence(void) { __asm__ __volatile__("sfence" ::: "memory"); }
/// Load barrier: no later load is done before an earlier one (rmb after seeing DD).
VFPMD_INLINE void vfpmd_read_fence(void) { __asm__ __volatile__("lfence" ::: "memory"); }
/// Full barrier.
VFPMD_INLINE void vfpmd_full_fence(void) { __asm__ __volatile__("mfence" ::: "memory"); }
/// Spin-wait hint.
VFPMD_INLINE void vfpmd_pause(void) { __asm__ __volatile__("pause"); }
/// The time stamp counter.
VFPMD_INLINE uint64_t vfpmd_rdtsc(void) {
    uint32_t lo, hi;
    __asm__ __volatile__("rdtsc" : "=a"(lo), "=d"(hi));
    return ((uint64_t)hi << 32) | lo;
}
#elif defined(__aarch64__)
VFPMD_INLINE void vfpmd_write_fence(void) { __asm__ __volatile__("dsb st" ::: "memory"); }
VFPMD_INLINE void vfpmd_read_fence(void) { __asm__ __volatile__("dsb ld" ::: "memory"); }
VFPMD_INLINE void vfpmd_full_fence(void) { __asm__ __volatile__("dsb sy" ::: "memory"); }
VFPMD_INLINE void vfpmd_pause(void) { __asm__ __volatile__("yield"); }
VFPMD_INLINE uint64_t vfpmd_rdtsc(void) {
    uint64_t v;
    __asm__ __volatile__("mrs %0, cntvct_el0" : "=r"(v));
    return v;
}
#else
#error "vfpmd supports x86_64 and aarch64"
#endif

/// Prefetch a cache line for reading.
VFPMD_INLINE void vfpmd_prefetch(const void *addr) { __builtin_prefetch(addr, 0, 3); }

// MARK: - Memory shared with a device model

VFPMD_INLINE uint32_t vfpmd_load_acquire32(const void *addr) {
    return __atomic_load_n((const uint32_t *)addr, __ATOMIC_ACQUIRE);
}
VFPMD_INLINE uint64_t vfpmd_load_acquire64(const void *addr) {
    return __atomic_load_n((const uint64_t *)addr, __ATOMIC_ACQUIRE);
}
/// A counter written by one thread and read by others: relaxed atomic accesses (plain moves
/// on x86_64 and aarch64, never a locked instruction).
VFPMD_INLINE uint64_t vfpmd_counter_load(const uint64_t *counter) {
    return __atomic_load_n(counter, __ATOMIC_RELAXED);
}
VFPMD_INLINE void vfpmd_counter_store(uint64_t *counter, uint64_t value) {
    __atomic_store_n(counter, value, __ATOMIC_RELAXED);
}
VFPMD_INLINE void vfpmd_counter_add(uint64_t *counter, uint64_t amount) {
    __atomic_store_n(counter, __atomic_load_n(counter, __ATOMIC_RELAXED) + amount, __ATOMIC_RELAXED);
}
VFPMD_INLINE void vfpmd_store_release32(void *addr, uint32_t value) {
    __atomic_store_n((uint32_t *)addr, value, __ATOMIC_RELEASE);
}
VFPMD_INLINE void vfpmd_store_release64(void *addr, uint64_t value) {
    __atomic_store_n((uint64_t *)addr, value, __ATOMIC_RELEASE);
}
/// Atomic compare-and-swap of a 32-bit word; returns 1 when `expected` was replaced.
VFPMD_INLINE int vfpmd_cas32(void *addr, uint32_t expected, uint32_t desired) {
    return __atomic_compare_exchange_n((uint32_t *)addr, &expected, desired, 0,
                                       __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
}

// MARK: - ioctl

/// ioctl with a pointer argument.
VFPMD_INLINE int vfpmd_ioctl_ptr(int fd, unsigned long request, void *arg) {
    return ioctl(fd, request, arg);
}
/// ioctl with an integer argument (or none).
VFPMD_INLINE int vfpmd_ioctl_int(int fd, unsigned long request, unsigned long arg) {
    return ioctl(fd, request, arg);
}

// MARK: - <linux/vfio.h> request numbers

VFPMD_INLINE unsigned long vfpmd_VFIO_GET_API_VERSION(void) { return VFIO_GET_API_VERSION; }
VFPMD_INLINE unsigned long vfpmd_VFIO_CHECK_EXTENSION(void) { return VFIO_CHECK_EXTENSION; }
VFPMD_INLINE unsigned long vfpmd_VFIO_SET_IOMMU(void) { return VFIO_SET_IOMMU; }
VFPMD_INLINE unsigned long vfpmd_VFIO_GROUP_GET_STATUS(void) { return VFIO_GROUP_GET_STATUS; }
VFPMD_INLINE unsigned long vfpmd_VFIO_GROUP_SET_CONTAINER(void) { return VFIO_GROUP_SET_CONTAINER; }
VFPMD_INLINE unsigned long vfpmd_VFIO_GROUP_UNSET_CONTAINER(void) { return VFIO_GROUP_UNSET_CONTAINER; }
VFPMD_INLINE unsigned long vfpmd_VFIO_GROUP_GET_DEVICE_FD(void) { return VFIO_GROUP_GET_DEVICE_FD; }
VFPMD_INLINE unsigned long vfpmd_VFIO_DEVICE_GET_INFO(void) { return VFIO_DEVICE_GET_INFO; }
VFPMD_INLINE unsigned long vfpmd_VFIO_DEVICE_GET_REGION_INFO(void) { return VFIO_DEVICE_GET_REGION_INFO; }
VFPMD_INLINE unsigned long vfpmd_VFIO_DEVICE_RESET(void) { return VFIO_DEVICE_RESET; }
VFPMD_INLINE unsigned long vfpmd_VFIO_DEVICE_GET_IRQ_INFO(void) { return VFIO_DEVICE_GET_IRQ_INFO; }
VFPMD_INLINE unsigned long vfpmd_VFIO_DEVICE_SET_IRQS(void) { return VFIO_DEVICE_SET_IRQS; }
VFPMD_INLINE unsigned long vfpmd_VFIO_IOMMU_GET_INFO(void) { return VFIO_IOMMU_GET_INFO; }
VFPMD_INLINE unsigned long vfpmd_VFIO_IOMMU_MAP_DMA(void) { return VFIO_IOMMU_MAP_DMA; }
VFPMD_INLINE unsigned long vfpmd_VFIO_IOMMU_UNMAP_DMA(void) { return VFIO_IOMMU_UNMAP_DMA; }

// The struct sizes the VFIO layer relies on; checked at compile time in cshims.c and at run
// time by the tests (a Swift `MemoryLayout.size` must match these).
VFPMD_INLINE size_t vfpmd_sizeof_vfio_group_status(void) { return sizeof(struct vfio_group_status); }
VFPMD_INLINE size_t vfpmd_sizeof_vfio_device_info(void) { return sizeof(struct vfio_device_info); }
VFPMD_INLINE size_t vfpmd_sizeof_vfio_region_info(void) { return sizeof(struct vfio_region_info); }
VFPMD_INLINE size_t vfpmd_sizeof_vfio_iommu_type1_info(void) { return sizeof(struct vfio_iommu_type1_info); }
VFPMD_INLINE size_t vfpmd_sizeof_vfio_iommu_type1_dma_map(void) { return sizeof(struct vfio_iommu_type1_dma_map); }
VFPMD_INLINE size_t vfpmd_sizeof_vfio_iommu_type1_dma_unmap(void) { return sizeof(struct vfio_iommu_type1_dma_unmap); }
VFPMD_INLINE size_t vfpmd_sizeof_vfio_info_cap_header(void) { return sizeof(struct vfio_info_cap_header); }
VFPMD_INLINE size_t vfpmd_sizeof_vfio_iova_range(void) { return sizeof(struct vfio_iova_range); }
VFPMD_INLINE size_t vfpmd_sizeof_vfio_irq_info(void) { return sizeof(struct vfio_irq_info); }
VFPMD_INLINE size_t vfpmd_sizeof_vfio_irq_set(void) { return sizeof(struct vfio_irq_set); }
/// Where each field of `struct vfio_irq_set` sits: argsz, flags, index, start, count, data[].
VFPMD_INLINE size_t vfpmd_offsetof_vfio_irq_set_flags(void) { return offsetof(struct vfio_irq_set, flags); }
VFPMD_INLINE size_t vfpmd_offsetof_vfio_irq_set_index(void) { return offsetof(struct vfio_irq_set, index); }
VFPMD_INLINE size_t vfpmd_offsetof_vfio_irq_set_start(void) { return offsetof(struct vfio_irq_set, start); }
VFPMD_INLINE size_t vfpmd_offsetof_vfio_irq_set_count(void) { return offsetof(struct vfio_irq_set, count); }
VFPMD_INLINE size_t vfpmd_offsetof_vfio_irq_set_data(void) { return offsetof(struct vfio_irq_set, data); }

// MARK: - Memory and threads

enum {
    /// memfd_create flag: back the file with hugetlbfs pages.
    VFPMD_MFD_HUGETLB = MFD_HUGETLB,
    /// memfd_create flag: 2 MiB hugepages (log2(2 MiB) << MFD_HUGE_SHIFT).
    VFPMD_MFD_HUGE_2MB = (21 << 26),
    /// mmap flag: back an anonymous mapping with hugepages.
    VFPMD_MAP_HUGETLB = MAP_HUGETLB,
};

/// memfd_create(2) through syscall(2), so older C libraries work too.
VFPMD_INLINE int vfpmd_memfd_create(const char *name, unsigned int flags) {
    return (int)syscall(SYS_memfd_create, name, flags);
}

/// Pin the calling thread to one CPU. Returns 0 or an errno value.
int vfpmd_pin_current_thread(int cpu);

/// The soft RLIMIT_MEMLOCK in bytes; UINT64_MAX when unlimited or unknown.
uint64_t vfpmd_memlock_limit(void);

#endif
