#!/usr/bin/env python
"""Top stalled SASS instructions from `ncu --page source --print-source sass --csv` output (one section per
profiled kernel): share of the warp-stall samples, execution count, the two largest stall reasons.
Usage: python tools/kernel_dev/ncu_source_top.py FILE.csv [TOP]"""
import csv
import sys


def _num(x):
    try:
        return float(x.replace(",", ""))
    except ValueError:
        return 0.0


def sections(path):
    rows = list(csv.reader(open(path)))
    cur = None
    for r in rows:
        if r and r[0] == "Kernel Name":
            cur = {"name": r[1], "hdr": None, "rows": []}
            yield cur
        elif cur is not None and r and r[0] == "Address":
            cur["hdr"] = r
        elif cur is not None and cur["hdr"] and len(r) == len(cur["hdr"]):
            cur["rows"].append(r)


def main(path, top=20):
    for sec in list(sections(path)):  # a section fills in as the file is read
        hdr, data = sec["hdr"], sec["rows"]
        ia, isrc = hdr.index("Address"), hdr.index("Source")
        iss, iex = hdr.index("Warp Stall Sampling (All Samples)"), hdr.index("Instructions Executed")
        stalls = [i for i, h in enumerate(hdr) if h.startswith("stall_") and "Not Issued" not in h]
        tot = sum(_num(r[iss]) for r in data) or 1.0
        agg = sorted(((sum(_num(r[i]) for r in data) / tot * 100, hdr[i]) for i in stalls), reverse=True)[:5]
        print(f"== {sec['name']}: {int(tot)} samples; " + ", ".join(f"{k} {v:.1f}%" for v, k in agg))
        base = int(data[0][ia], 16)
        for r in sorted(data, key=lambda r: -_num(r[iss]))[:top]:
            st = sorted(((_num(r[i]), hdr[i]) for i in stalls), reverse=True)[:2]
            print(f"  {int(r[ia], 16) - base:>6x} {_num(r[iss]) / tot * 100:5.1f}% ex={_num(r[iex]):>9.0f} "
                  f"{r[isrc].strip()[:58]:58s} {st[0][1]} {st[1][1]}")


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 20)
