#!/usr/bin/env python3
"""Reads callgrind output files of datapath-cost (collection on only inside the forwarding
loop) and prints the driver's cost: Ir of the loop minus the inclusive Ir of the device
model's step, and the calls to swift_retain, swift_release and malloc made in the loop.

Usage: callgrind-driver-cost.py PACKETS OUT_N OUT_2N
  OUT_N forwarded PACKETS packets in its loop, OUT_2N twice as many; the difference of the
  two runs leaves out setup and warm-up, so the result is exact per packet.
Standard library only.
"""
import re
import sys

STEP = "stepDevice"                      # DriverRig.stepDevice(): the engine step, timed
COUNTED = {"swift_retain": "swift_retain", "swift_release": "swift_release", "malloc": "malloc"}


def parse(path):
    """Returns (total Ir collected, inclusive Ir of calls into STEP, {name: calls in the loop
    outside STEP}, {name: calls inside STEP})."""
    names = {}          # compressed id -> name, for fn/cfn
    total = 0
    step_inclusive = 0
    events = None
    fn = None
    cfn = None
    pending_call = None   # (callee name, count) waiting for its cost line
    # Edges caller -> callee with call counts, for attributing runtime calls.
    edges = {}

    def name_of(spec):
        m = re.match(r"\((\d+)\)(?:\s+(.*))?", spec)
        if m:
            if m.group(2) is not None:
                names[m.group(1)] = m.group(2)
            return names.get(m.group(1), spec)
        return spec

    with open(path) as f:
        for line in f:
            line = line.rstrip("\n")
            if line.startswith("events:"):
                events = line.split()[1:]
            elif line.startswith("summary:") or line.startswith("totals:"):
                total = int(line.split()[1])
            elif line.startswith("fn="):
                fn = name_of(line[3:])
            elif line.startswith("cfn="):
                cfn = name_of(line[4:])
            elif line.startswith("calls="):
                pending_call = (cfn, int(line[6:].split()[0]))
            elif pending_call and line and (line[0].isdigit() or line[0] in "+-*"):
                callee, count = pending_call
                cost = int(line.split()[1]) if len(line.split()) > 1 else 0
                if STEP in callee and STEP not in (fn or ""):
                    step_inclusive += cost
                edges[(fn, callee)] = edges.get((fn, callee), 0) + count
                pending_call = None
    if events is None or events[0] != "Ir":
        sys.exit(f"{path}: no Ir events (not a callgrind file?)")
    # Functions reached from STEP (the device model) versus the rest of the loop.
    children = {}
    for (caller, callee) in edges:
        children.setdefault(caller, set()).add(callee)
    in_step = set()
    stack = [n for n in children if STEP in (n or "")]
    while stack:
        n = stack.pop()
        if n in in_step:
            continue
        in_step.add(n)
        stack.extend(children.get(n, ()))
    driver_calls = {k: 0 for k in COUNTED}
    device_calls = {k: 0 for k in COUNTED}
    for (caller, callee), count in edges.items():
        for key, symbol in COUNTED.items():
            if callee == symbol or (callee or "").startswith(symbol + "'"):
                (device_calls if caller in in_step else driver_calls)[key] += count
    return total, step_inclusive, driver_calls, device_calls


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    packets = int(sys.argv[1])
    t1, s1, d1, v1 = parse(sys.argv[2])
    t2, s2, d2, v2 = parse(sys.argv[3])
    loop_per_packet = ((t2 - t1)) / packets
    device_per_packet = (s2 - s1) / packets
    driver = ((t2 - s2) - (t1 - s1)) / packets
    print(f"loop Ir/packet (driver + device model): {loop_per_packet:.1f}")
    print(f"device model Ir/packet (engine steps, left out): {device_per_packet:.1f}")
    for key in COUNTED:
        print(f"{key} calls in the loop, driver side: {d2[key] - d1[key]} "
              f"({(d2[key] - d1[key]) / packets:.3f}/packet); device model side: {v2[key] - v1[key]}")
    print(f"instructions/packet: {driver:.1f}")


if __name__ == "__main__":
    main()
