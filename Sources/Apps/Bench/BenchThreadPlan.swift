/// Which polling thread of a bench serves which lane (a port's queue that sends, measures, or
/// both), and on which CPU.
///
/// Without CPUs every lane has a thread of its own. With CPUs the lanes take them in turn
/// (lane k the k-th CPU of the list, cycled), and the lanes given the same CPU share one
/// thread pinned there, which polls them in turn, as a DPDK lcore polls several queues: two
/// threads pinned to one CPU would each run only in the scheduler's slices, and a queue whose
/// thread waits for its slice overflows meanwhile.
struct BenchThreadPlan: Equatable {
    /// One thread: its CPU (nil: not pinned) and the indices of its lanes, in lane order.
    struct Thread: Equatable {
        var core: Int?
        var lanes: [Int]
    }

    /// The threads, in the order of their first lane.
    let threads: [Thread]

    /// The plan for `laneCount` lanes over `cores` (empty: one unpinned thread per lane).
    init(laneCount: Int, cores: [Int]) {
        guard !cores.isEmpty else {
            threads = (0..<laneCount).map { Thread(core: nil, lanes: [$0]) }
            return
        }
        var threads: [Thread] = []
        var threadOfCore: [Int: Int] = [:]
        for lane in 0..<laneCount {
            let core = cores[lane % cores.count]
            if let t = threadOfCore[core] {
                threads[t].lanes.append(lane)
            } else {
                threadOfCore[core] = threads.count
                threads.append(Thread(core: core, lanes: [lane]))
            }
        }
        self.threads = threads
    }
}
