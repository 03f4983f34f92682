#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""bench_report.py SAMPLES DEST: summarise `make bench` samples.

SAMPLES has lines "IMPL NAME VALUE UNIT" (IMPL is rust or c). Prints, per
workload, "bench NAME: rust=X c=Y unit=U ratio=R" with medians and their spread
(min-max), and writes DEST/bench-results.csv and DEST/bench-ratios.png.

A workload floor_W is the floor of the pinning workload W_mock (the bare kernel work
for the same memory: pin, map each run, unmap, unpin; the test driver's
/sys/kernel/debug/iommufd-test/floor, so measured on the Rust kernel only): it is
printed as "bench floor_W: floor=F unit=U", and W_mock's line gains
"floor_ratio: rust=R c=S", each kernel's median over the floor.
"""
import csv
import os
import statistics
import sys


def main():
    samples, dest = sys.argv[1], sys.argv[2]
    data = {}
    units = {}
    order = []
    for line in open(samples):
        impl, name, value, unit = line.split()
        if name not in units:
            order.append(name)
        units[name] = unit
        data.setdefault((name, impl), []).append(float(value))
    rows = []
    floors = {}
    for name in order:
        if name.startswith('floor_') and data.get((name, 'rust')):
            f = data[(name, 'rust')]
            floors[name[len('floor_'):] + '_mock'] = statistics.median(f)
            print('bench %s: floor=%.3f unit=%s (spread %.3f..%.3f, n=%d)' %
                  (name, statistics.median(f), units[name], min(f), max(f), len(f)))
    for name in order:
        if name.startswith('floor_'):
            continue
        rust = data.get((name, 'rust'), [])
        c = data.get((name, 'c'), [])
        if not rust or not c:
            print('bench %s: missing samples (rust %d, c %d)' % (name, len(rust), len(c)))
            continue
        mr, mc = statistics.median(rust), statistics.median(c)
        ratio = mr / mc if mc else float('inf')
        print('bench %s: rust=%.3f c=%.3f unit=%s ratio=%.3f' % (name, mr, mc, units[name], ratio))
        print('  spread: rust %.3f..%.3f c %.3f..%.3f (n=%d, %d)' %
              (min(rust), max(rust), min(c), max(c), len(rust), len(c)))
        floor = floors.get(name)
        if floor:
            print('  floor_ratio: rust=%.3f c=%.3f (floor %.3f %s)' %
                  (mr / floor, mc / floor, floor, units[name]))
        rows.append((name, mr, mc, units[name], ratio, min(rust), max(rust), min(c), max(c),
                     len(rust), len(c), '%.3f' % (mr / floor) if floor else '',
                     '%.3f' % (mc / floor) if floor else ''))
    os.makedirs(dest, exist_ok=True)
    with open(os.path.join(dest, 'bench-results.csv'), 'w', newline='') as f:
        w = csv.writer(f)
        w.writerow(['workload', 'rust', 'c', 'unit', 'ratio', 'rust_min', 'rust_max',
                    'c_min', 'c_max', 'rust_n', 'c_n', 'rust_floor_ratio', 'c_floor_ratio'])
        w.writerows(rows)
    try:
        import matplotlib
        matplotlib.use('Agg')
        import matplotlib.pyplot as plt
    except ImportError:
        print('(no matplotlib: chart skipped)')
        return 0
    fig, ax = plt.subplots(figsize=(8, 0.5 * len(rows) + 1.5))
    names = [r[0] for r in rows]
    ratios = [r[4] for r in rows]
    colors = ['tab:green' if x <= 1.0 else 'tab:red' for x in ratios]
    # A ratio over a C figure of zero is infinite: drawn as a bar past the others.
    finite = [x for x in ratios if x != float('inf')] or [1.0]
    cap = max(max(finite), 1.0) * 1.25
    ax.barh(names, [min(x, cap) for x in ratios], color=colors)
    ax.axvline(1.0, color='black', linewidth=1)
    ax.set_xlabel('Rust / C (median time or bytes; lower is better)')
    ax.set_title('iommufd: Rust vs C, same tree, same config, same VM')
    ax.invert_yaxis()
    for i, x in enumerate(ratios):
        ax.text(min(x, cap), i, ' %.2f' % x if x != float('inf') else ' inf (C: 0)',
                va='center')
    fig.tight_layout()
    fig.savefig(os.path.join(dest, 'bench-ratios.png'), dpi=100)
    return 0


if __name__ == '__main__':
    sys.exit(main())
