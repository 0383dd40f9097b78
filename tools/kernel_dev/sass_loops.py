"""Offline SASS of a Triton kernel for sm_90 (no GPU needed): the instruction mix of every loop body.

Instructions per loop iteration by class, registers and spills, before any device time is spent. The scan loops
turned out latency-bound (docs/perf_notes.md v10, v14): counts alone do not predict their speed; registers (occupancy,
spills under the mixer's cap) and code size (the instruction cache) matter as much. Usage, from the repository root:

    python tools/kernel_dev/sass_loops.py fwd|fwd_train|local|recompute|bwd [--dump FILE] [--const K=V,...] \
        [--maxnreg N]

Compiles with the local Triton's bundled ptxas/nvdisasm for GPUTarget("cuda", 90, 32).
"""
import argparse
import inspect
import collections
import os
import re
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))

import triton  # noqa: E402
from triton.backends.compiler import GPUTarget  # noqa: E402
from triton.compiler import ASTSource  # noqa: E402

from videomamba.ops.triton import scan  # noqa: E402


def compile_sm90(fn, ptr_types, const, divisible=(), num_warps=1, maxnreg=None):
    names = fn.arg_names
    const = dict(const)
    for prm in fn.params:  # constexpr parameters left out take their defaults
        if prm.is_constexpr and prm.name not in const and prm.default is not inspect.Parameter.empty:
            const[prm.name] = prm.default
    sig = {}
    for n in names:
        if n in ptr_types:
            sig[n] = ptr_types[n]
        elif n in const:
            sig[n] = "constexpr"
        else:
            sig[n] = "i32"
    attrs = {(names.index(n),): [["tt.divisibility", 16]] for n in list(ptr_types) + list(divisible)}
    src = ASTSource(fn, sig, constexprs={(names.index(k),): v for k, v in const.items()}, attrs=attrs)
    opts = dict(num_warps=num_warps, **({"maxnreg": maxnreg} if maxnreg else {}))
    return triton.compile(src, target=GPUTarget("cuda", 90, 32), options=opts)


def sass_of(kernel):
    nvdisasm = os.path.join(os.path.dirname(triton.__file__), "backends", "nvidia", "bin", "nvdisasm")
    with tempfile.NamedTemporaryFile(suffix=".cubin", delete=False) as f:
        f.write(kernel.asm["cubin"])
    out = subprocess.run([nvdisasm, "-c", f.name], capture_output=True, text=True, check=True).stdout
    os.unlink(f.name)
    return out


_LINE = re.compile(r"/\*([0-9a-f]{4,})\*/\s+(@!?U?P\w+\s+)?([A-Z][A-Z0-9_.]*)([^;]*);")
_LABEL = re.compile(r"^\.(L_x_\d+):", re.M)


def loops(sass):
    """[(start, end, Counter(opcode class))] for each backward branch, innermost first."""
    instrs = []
    labels = {}
    pending = []
    for line in sass.splitlines():
        m = re.match(r"^\s*\.(L_x_\d+):", line)
        if m:
            pending.append(m.group(1))
            continue
        m = _LINE.search(line)
        if m:
            addr = int(m.group(1), 16)
            for lab in pending:
                labels[lab] = addr
            pending = []
            instrs.append((addr, m.group(3), m.group(4)))
    found = []
    for addr, op, args in instrs:
        if op.startswith("BRA"):
            t = re.search(r"`\(\.(L_x_\d+)\)", args)
            if t and labels.get(t.group(1), 1 << 60) <= addr:
                start = labels[t.group(1)]
                body = [o for a, o, _ in instrs if start <= a <= addr]
                found.append((start, addr, collections.Counter(o.split(".")[0] for o in body)))
    return sorted(found, key=lambda f: f[1] - f[0])


def resources(kernel):
    """'REG:.. STACK:.. SHARED:..' line of cuobjdump --dump-resource-usage."""
    cuobjdump = os.path.join(os.path.dirname(triton.__file__), "backends", "nvidia", "bin", "cuobjdump")
    with tempfile.NamedTemporaryFile(suffix=".cubin", delete=False) as f:
        f.write(kernel.asm["cubin"])
    out = subprocess.run([cuobjdump, "--dump-resource-usage", f.name], capture_output=True, text=True).stdout
    os.unlink(f.name)
    m = re.search(r"REG:\d+ STACK:\d+ SHARED:\d+", out)
    return m.group(0) if m else out.strip()[-200:]


def report(kernel, title):
    sass = sass_of(kernel)
    print(f"== {title}: {resources(kernel)}")
    for start, end, c in loops(sass):
        total = sum(c.values())
        top = ", ".join(f"{k} {v}" for k, v in c.most_common(14))
        print(f"  loop {start:#x}-{end:#x}: {total} instr | {top}")
    return sass


BF = "*bf16"
F32 = "*fp32"
# pointer args that hold activations (bf16 in training); every other pointer is fp32
BF_ARGS = {"x_ptr", "dt_ptr", "z_ptr", "y_ptr", "g_ptr", "dx_ptr", "ddt_ptr", "ypre_ptr"}
_COMMON = dict(N=16, BLOCK_N=16, BLOCK_E=32)
# the forward's compile-time row strides at the tiny width (E = 384, x_proj output P = 48, xz rows 2E, y rows 2E,
# g rows E)
_FWD = dict(_COMMON, E=384, SBC=48, SZ=768)
SPECS = {
    # the mixer's defaults (CONFIG): unroll 2 (the backward's forward-time pass 1, compiled at grad_maxnreg = 184),
    # the backward walks in the lane-dependent state order (PERM, mixer._slot_order)
    "fwd": (scan.scan_fwd_kernel, dict(_FWD, U=2, SY=768, SG=0, LOCAL=False, WRITE_Y=True, FAST=True)),
    "fwd_train": (scan.scan_fwd_kernel, dict(_FWD, U=2, SY=768, SG=0, LOCAL=False, WRITE_Y=True, H0=True, FAST=True)),
    "local": (scan.scan_fwd_kernel, dict(_FWD, U=2, SY=0, SG=0, LOCAL=True, WRITE_Y=False, FAST=True)),
    "grad": (scan.scan_fwd_kernel, dict(_FWD, U=1, SY=768, SG=384, LOCAL=False, WRITE_Y=False, H0=True, ADJ=True,
                                        FAST=True, PERM=True)),
    "bwd": (scan.scan_bwd_kernel, dict(_COMMON, E=384, R=0, SBC=48, SZ=768, SG=384, FAST=True, PERM=True)),
    # the time-parallel prototype (tp_bench.py, measured and dropped; imported on use: it pulls in torch and
    # the models): warps = ROWS * BLOCK_E / 32
    "tp": ("tp_bench.scan_tp_fwd_kernel", dict(_COMMON, ROWS=8, TC=8, G=2, FAST=True)),
}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("which", choices=sorted(SPECS))
    ap.add_argument("--dump")
    ap.add_argument("--const", default="", help="extra constexprs, k=v,k=v (ints/bools)")
    ap.add_argument("--maxnreg", type=int, help="register cap, as the mixer's *_maxnreg (CONFIG)")
    a = ap.parse_args()
    extra = {}
    for kv in filter(None, a.const.split(",")):
        k, v = kv.split("=")
        extra[k] = {"True": True, "False": False}.get(v, None) if v in ("True", "False") else int(v)
    kern, const = SPECS[a.which]
    if isinstance(kern, str):
        import importlib
        module, name = kern.rsplit(".", 1)
        kern = getattr(importlib.import_module(module), name)
    const = dict(const)
    types = {n: (BF if n in BF_ARGS else F32) for n in kern.arg_names if n.endswith("_ptr")}
    const.update(extra)
    warps = max(1, const["ROWS"] * const["BLOCK_E"] // 32) if "ROWS" in const else 1
    # the integers the mixer passes as multiples of 16 (Triton's launch specialises them so)
    div = tuple(n for n in ("stride_bc", "stride_z", "stride_g", "stride_ypre", "E", "R") if n in kern.arg_names
                and n not in const)
    k = compile_sm90(kern, types, const, divisible=div, num_warps=warps, maxnreg=a.maxnreg)
    sass = report(k, f"{a.which} {const}")
    if a.dump:
        open(a.dump, "w").write(sass)


if __name__ == "__main__":
    main()
