#!/usr/bin/env python3
"""Draws the driver's packets per second against the burst size (docs/bursts.png) from the
CSV of `datapath-cost --sweep` (docs/bursts.csv): one line per mode for 64-byte frames, the
driver's own cost only (device model left out), with 10 GbE line rate for reference.

  (cd Benchmarks && swift build -c release --product datapath-cost)
  Benchmarks/.build/release/datapath-cost --sweep > docs/bursts.csv
  scripts/plot-bursts.py docs/bursts.csv docs/bursts.png

Needs matplotlib: `pip install matplotlib` (or Debian's python3-matplotlib).
"""
import csv
import sys

try:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
except ImportError:
    sys.exit("plot-bursts.py: matplotlib is missing: pip install matplotlib (or apt-get install python3-matplotlib)")

LINE_RATE_MPPS = 14.88  # 10 GbE, 64-byte frames, one direction


def main():
    source = sys.argv[1] if len(sys.argv) > 1 else "docs/bursts.csv"
    target = sys.argv[2] if len(sys.argv) > 2 else "docs/bursts.png"
    rows = list(csv.DictReader(open(source)))
    if not rows:
        sys.exit(f"plot-bursts.py: {source} has no rows")
    fig, axes = plt.subplots(1, 3, figsize=(13, 4.2), sharey=True)
    for ax, size in zip(axes, ["64", "512", "1518"]):
        for mode, style in [("rx-only", "o-"), ("tx-only", "s-"), ("forward", "^-")]:
            points = sorted((int(r["burst"]), float(r["driver_mpps"]))
                            for r in rows if r["mode"] == mode and r["frame_size"] == size)
            if points:
                ax.plot([p[0] for p in points], [p[1] for p in points], style, label=mode)
        if size == "64":
            ax.axhline(LINE_RATE_MPPS, color="grey", linestyle="--", label="10 GbE line rate, 64 B")
        ax.set_xscale("log", base=2)
        ax.set_xticks([1, 8, 32, 64])
        ax.set_xticklabels(["1", "8", "32", "64"])
        ax.set_xlabel("burst size (packets)")
        ax.set_title(f"{size}-byte frames")
        ax.grid(True, alpha=0.3)
    axes[0].set_ylabel("Mpps per core (driver only, from TSC ticks)")
    axes[0].legend(fontsize=8)
    ghz = float(rows[0].get("tsc_ghz") or 0)
    fig.suptitle(f"vfpmd driver on simulated 82599 VFs, device model left out (TSC {ghz:.2f} GHz, shared 2-vCPU VM)")
    fig.tight_layout()
    fig.savefig(target, dpi=110)
    print(f"wrote {target}")


if __name__ == "__main__":
    main()
