import ArgumentParser

/// `--no-iommu`: the user's consent to drive `pci:` ports whose VF is in a no-IOMMU group.
struct NoIOMMUOption: ParsableArguments {
    @Flag(name: .customLong("no-iommu"), help: ArgumentHelp(
        "Allow pci: ports whose VF is in a no-IOMMU group (vfio-pci without an IOMMU, as in a VM without a virtual IOMMU), as noiommu=on in each pci: spec does.",
        discussion: "Unsafe: the VF can then read and write all of the machine's memory and the kernel is tainted. Needs root (physical addresses from /proc/self/pagemap) and free 2 MiB hugepages (echo 512 > /proc/sys/vm/nr_hugepages). A VF in an ordinary IOMMU group still uses its IOMMU."))
    var noIOMMU = false
}
