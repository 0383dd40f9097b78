#!/usr/bin/env python
"""Where the training scan launches spend their time: each variant removes or changes one piece of a kernel
(source patched in a copy of videomamba/ops/triton/scan.py) and is timed on the very arguments the mixer
passed (tiny, 64 frames, batch 8 by default), against the unchanged kernel, in one process.

Removal variants are wrong on purpose (the compiler also drops whatever only fed the removed piece): their time
difference is the cost of that piece. Variants marked "same result" only change cache hints or scheduling and
are checked against the unchanged kernel's outputs. Usage on the GPU:

    python tools/kernel_dev/ablate.py [--batch 8] [--only bwd:nodb,fwd:nonu] [--rounds 2]
    python tools/kernel_dev/ablate.py --config grad_unroll=2 --only bwd:r128   # the launches of another CONFIG
    python tools/kernel_dev/ablate.py --alt old/scan.py --alt-caps 152,200 --only bwd:alt,bwd:alt_r152
"""
import argparse
import sys
import tempfile
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tools"))
sys.path.insert(0, str(ROOT / "tools" / "kernel_dev"))
from benchmark import time_steps  # noqa: E402
from scan_once import add_shape_args, import_copy, scan_inputs  # noqa: E402
from videomamba.ops.triton import mixer  # noqa: E402

IDS = """    d = tl.program_id(1) // n_eb
    eb = tl.program_id(1) % n_eb
    pid_s = tl.program_id(2)"""
# the same grid walked with the channel block fastest, then the segment, then the direction
IDS_DIRMAJOR = """    q = tl.program_id(1) + tl.num_programs(1) * tl.program_id(2)
    eb = q % n_eb
    pid_s = (q // n_eb) % tl.num_programs(2)
    d = (q // n_eb) // tl.num_programs(2)"""
IDS_MIRROR = """    d = tl.program_id(1) // n_eb
    eb = tl.program_id(1) % n_eb
    pid_s = tl.where(d == 1, tl.num_programs(2) - 1 - tl.program_id(2), tl.program_id(2))"""
IDS_DFAST_MIRROR = """    d = tl.program_id(1) % 2
    eb = tl.program_id(1) // 2
    pid_s = tl.where(d == 1, tl.num_programs(2) - 1 - tl.program_id(2), tl.program_id(2))"""
# launches: the LOCAL pass, the main (y-writing) pass, the backward's forward-time pass (ypre, dC, dyf, dA's local
# part, ν), the backward's reverse walk, and the carry walks (forward start states, backward adjoint carries)
LAUNCHES = {"fwd": ("loc", "main", "grad"), "bwd": ("bwd",), "carry": ("carry_f", "carry_b")}
KERNEL = {"fwd": "scan_fwd_kernel", "bwd": "scan_bwd_kernel", "carry": "scan_carry_kernel"}


def V(what, edits=(), same=False, launches=None, kw=None, base=None):
    """A variant: source edits [(old, new), ...] and/or launch keyword overrides; ``same``: must reproduce the
    unchanged kernel's outputs; ``launches``: which of the source's launches to time (default all); ``base``:
    another scan.py to build from instead of the tree's."""
    return dict(what=what, edits=list(edits), same=same, launches=launches, kw=kw or {}, base=base)


# 2^x for x <= 0 with one of every PACK exponentials on the FMA pipe instead of the MUFU (the LOCAL and main passes
# are MUFU-bound: XU pipe 82 % and 69 %, ncu v19; measured slower all the same, perf_notes v19): round-to-nearest
# split by the 1.5*2^23 trick, a degree-5 fit of 2^f on [-0.5, 0.5] (max rel. err. 1.8e-7), the integer part added
# to the exponent bits; x clamped at -125 (the result's exponent field stays positive; MUFU's ex2 flushes below
# 2^-126 to 0)
EXP2_POLY = """{ .reg .f32 x, t, j, f, p; .reg .b32 s, q;
 max.f32 x, $IN, 0fC2FA0000; add.rn.f32 t, x, 0f4B400000; sub.rn.f32 j, t, 0f4B400000; sub.rn.f32 f, x, j;
 fma.rn.f32 p, f, 0f3AAD4285, 0f3C1E7615; fma.rn.f32 p, p, f, 0f3D635D55; fma.rn.f32 p, p, f, 0f3E75FCDB;
 fma.rn.f32 p, p, f, 0f3F317213; fma.rn.f32 p, p, f, 0f3F800000;
 mov.b32 s, t; shl.b32 s, s, 23; mov.b32 q, p; add.s32 q, q, s; mov.b32 $OUT, q; }"""


def exp2_mixed_src(pack):
    mufu = "".join(f"ex2.approx.ftz.f32 ${i}, ${pack + i}; " for i in range(pack - 1))
    asm = mufu + EXP2_POLY.replace("$IN", f"${2 * pack - 1}").replace("$OUT", f"${pack - 1}")
    cons = ",".join(["=f"] * pack + ["f"] * pack)
    return (f"@triton.jit\ndef _exp2_mixed(v):\n    return tl.inline_asm_elementwise({asm!r}, {cons!r}, [v], "
            f"dtype=tl.float32, is_pure=True, pack={pack})\n\n\n@triton.jit\ndef _fwd_walk(")


# (kernel source, name) -> variant
VARIANTS = {
    ("fwd", "nonu"): V("forward-time pass without the adjoint carry ν (and its decay product)",
                       [("nu += prod * cd", "pass")], launches=("grad",)),
    ("fwd", "notan"): V("forward-time pass without the tangent h' and dA's local sum",
                        [("ht = decay * (ht + h * delta[None, :])", "pass"), ("da += cd * ht", "pass")],
                        launches=("grad",)),
    ("fwd", "nodc"): V("forward-time pass without dC (lane reduction and atomics)",
                       [("_add_state_sums(pdc + u * SGN * 2 * N, h * dy[None, :], lane, one, offs_n, mask_n,\n"
                         "                                seg_len - (k0 + u), N, BLOCK_N, BLOCK_E, PERM)", "pass")],
                       launches=("grad",)),
    ("fwd", "noyd"): V("forward-time pass without the ypre and dyf stores",
                       [("tl.store(py + u * SGN * SY, ypre.to(py.dtype.element_ty), mask=me)", "pass"),
                        ("tl.store(pdf + u * SGN * E, dy * tl.sum(hc * a2, axis=0), mask=me)", "pass")],
                       launches=("grad",)),
    ("bwd", "nodb"): V("reverse walk without dB (lane reduction and atomics)",
                       [("_add_state_sums(pdbc, db, lane, one, offs_n, mask_n, 1, N, BLOCK_N, BLOCK_E, PERM)",
                         "pass")]),
    ("bwd", "noexp"): V("reverse walk without its exp2 (decay recomputation)",
                        [("m = tl.exp2(a2 * delta[None, :]) * lam", "m = (a2 * delta[None, :]) * lam")]),
    ("bwd", "nostores"): V("no dx / dΔ stores",
                           [("tl.store(dx_ptr + xo, dx.to(dx_ptr.dtype.element_ty), mask=mask_e)", "pass"),
                            ("tl.store(ddt_ptr + xo, ddt.to(ddt_ptr.dtype.element_ty), mask=mask_e)", "pass")]),
    ("fwd", "main_u4"): V("main pass, 4 steps per load group", same=True, launches=("main",), kw=dict(U=4)),
    ("fwd", "main_r64"): V("main pass capped at 64 registers", same=True, launches=("main",), kw=dict(maxnreg=64)),
    ("fwd", "main_r72"): V("main pass capped at 72 registers", same=True, launches=("main",), kw=dict(maxnreg=72)),
    ("fwd", "main_r68"): V("main pass capped at 68 registers", same=True, launches=("main",), kw=dict(maxnreg=68)),
    ("fwd", "main_r76"): V("main pass capped at 76 registers", same=True, launches=("main",), kw=dict(maxnreg=76)),
    ("fwd", "main_r80"): V("main pass capped at 80 registers", same=True, launches=("main",), kw=dict(maxnreg=80)),
    ("fwd", "main_u4r80"): V("main pass, 4 steps per load group, capped at 80 registers", same=True,
                             launches=("main",), kw=dict(U=4, maxnreg=80)),
    ("fwd", "main_r96"): V("main pass capped at 96 registers", same=True, launches=("main",), kw=dict(maxnreg=96)),
    ("fwd", "main_r168"): V("main pass capped at 168 registers", same=True, launches=("main",),
                            kw=dict(maxnreg=168)),
    ("fwd", "loc_u4"): V("LOCAL pass, 4 steps per load group", same=True, launches=("loc",), kw=dict(U=4)),
    ("fwd", "loc_r64"): V("LOCAL pass capped at 64 registers", same=True, launches=("loc",), kw=dict(maxnreg=64)),
    ("carry", "g4"): V("carry walk, 4 segments per load group", same=True, kw=dict(G=4)),
    ("carry", "g16"): V("carry walk, 16 segments per load group", same=True, kw=dict(G=16)),
    ("carry", "g16w2"): V("carry walk, 16 per group, 2 warps (8 states per thread)", same=True,
                          kw=dict(G=16, num_warps=2)),
    ("carry", "g32w4"): V("carry walk, 32 per group, 4 warps", same=True, kw=dict(G=32, num_warps=4)),
    ("fwd", "nosoftplus"): V("forward walks without softplus (Δ = raw + bias: the cost of computing Δ in the walk)",
                             [("delta = tl.where(me, _softplus(dtr + bias, FAST), 0.0)",
                               "delta = tl.where(me, dtr + bias, 0.0)")]),
    ("bwd", "nosoftplus"): V("reverse walk without softplus, its sigmoid as 1 - e^-Δ (one MUFU): Δ given",
                             [("delta = tl.where(mask_e, _softplus(dtr + bias, FAST), 0.0)",
                               "delta = tl.where(mask_e, dtr + bias, 0.0)"),
                              ("ddelta * _sigmoid(dtr + bias, FAST)", "ddelta * (1.0 - tl.exp2(delta * -LOG2E))")]),
}
# register caps and load-group sizes (U steps) of the forward-time pass, register caps of the reverse walk
for _u in (1, 2, 3, 4, 8):
    for _c in (None, 128, 136, 144, 152, 160, 168, 176, 184, 192, 200, 216, 232):
        _kw = dict(U=_u, maxnreg=_c) if _c else dict(U=_u)
        VARIANTS[("fwd", f"grad_u{_u}" + (f"r{_c}" if _c else ""))] = V(
            f"forward-time pass, {_u} steps per load group" + (f", {_c} registers" if _c else ""), same=True,
            launches=("grad",), kw=_kw)
for _c in (96, 104, 112, 120, 128, 144, 168):
    VARIANTS[("bwd", f"r{_c}")] = V(f"reverse walk capped at {_c} registers", same=True, kw=dict(maxnreg=_c))
# the forward walks' group loop software-pipelined by Triton (tl.range num_stages): B/C rows copied into shared memory
# asynchronously (LDGSTS) instead of held in registers; the bf16 channel loads (2 bytes a lane) are not pipelined
for _st in (2, 3):
    VARIANTS[("fwd", f"stages{_st}")] = V(f"forward group loop pipelined, num_stages={_st}",
                                          [("    for k0 in range(0, seg_len, U):\n",
                                            f"    for k0 in tl.range(0, seg_len, U, num_stages={_st}):\n")], same=True)
# launch orders: the same grid, its program ids mapped to (b, direction, channel block, segment) differently (v14)
for _name, (_what, _ids) in dict(
        dirmajor=("programs launched direction-major (one direction's code per SM at a time)", IDS_DIRMAJOR),
        mirror=("direction b's segments in mirrored order (both directions on the same rows at once)", IDS_MIRROR),
        dfast_mirror=("mirrored, and the two directions of a channel block launched next to each other",
                      IDS_DFAST_MIRROR)).items():
    for _src in ("fwd", "bwd"):
        VARIANTS[(_src, _name)] = V(_what, [(IDS, _ids)], same=True)
# one of every 4, 8 or 16 decays of the forward walks on the FMA pipe (EXP2_POLY); close, not bit-identical
for _pk in (4, 8, 16):
    VARIANTS[("fwd", f"polyexp{_pk}")] = V(
        f"forward walks, 1 of {_pk} decays as an FMA-pipe polynomial",
        [("            decay = tl.exp2(a2 * delta[None, :])", "            decay = _exp2_mixed(a2 * delta[None, :])"),
         ("@triton.jit\ndef _fwd_walk(", exp2_mixed_src(_pk))], launches=("loc", "main"))
# the forward-time pass without the decay-product tile: Π_s a_s = 2^(A·log2e·ΣΔ) from the ΣΔ it already carries (one
# MUFU more per state and step, 16 registers fewer), at several caps and load groups; close, not bit-identical
for _u in (1, 2):
    for _c in (136, 144, 152, 160, 168):
        VARIANTS[("fwd", f"prodexp_u{_u}r{_c}")] = V(
            f"forward-time pass, decay product as 2^(a2·ΣΔ), {_u} steps per group, {_c} registers",
            [("prod = prod * decay", "prod = tl.exp2(a2 * sum_delta[None, :])")], launches=("grad",),
            kw=dict(U=_u, maxnreg=_c))
# v20 candidates. (1) The training forward's main pass keeps ypre and w_t = Σ_n A_n C_t h_t (stored into the launch's
# spare x-shaped buffers: timing only), so the forward-time pass drops them (noyd) and may fit a lower register cap.
# (2) Select-free lane halving (nosel: every halving step as lo + shuffle(hi), wrong on purpose: measured before the
# lane-dependent state order of v20 made the first two steps so; with it, nosel only touches the last two).
_NOYD = VARIANTS[("fwd", "noyd")]["edits"]
_NOSEL = [("return tl.where(bit, hi, lo) + _lane_xor(tl.where(bit, lo, hi), lane, m, AXIS)",
           "return lo + _lane_xor(hi, lane, m, AXIS)")]
_KEEP = [("                y = tl.sum(h * cm, axis=0) + d_skip * x\n",
          "                hc = h * cm\n                y = tl.sum(hc, axis=0) + d_skip * x\n"
          "                tl.store(pdf + u * SGN * E, tl.sum(hc * a2, axis=0), mask=me)\n"
          "                tl.store(pdt + (u - U) * SGN * E, y.to(pdt.dtype.element_ty), mask=me)\n")]
VARIANTS[("fwd", "nosel")] = V("forward-time pass, lane halving without selects", _NOSEL, launches=("grad",))
VARIANTS[("bwd", "nosel")] = V("reverse walk, lane halving without selects", _NOSEL)
for _c in (None, 96, 112, 128, 136, 144, 152, 168):
    for _u in (1, 2):
        _kw = dict(U=_u, maxnreg=_c) if _c else dict(U=_u)
        _sfx = f"_u{_u}" + (f"r{_c}" if _c else "")
        VARIANTS[("fwd", "noyd" + _sfx)] = V(f"forward-time pass without ypre / dyf, {_kw}", _NOYD,
                                              launches=("grad",), kw=_kw)
        VARIANTS[("fwd", "noyd_nosel" + _sfx)] = V(f"forward-time pass without ypre / dyf and selects, {_kw}",
                                                    _NOYD + _NOSEL, launches=("grad",), kw=_kw)
# v21: how the forward-time pass's time moves with its warps per scheduler. Wrong on purpose: without the tangent (h',
# dA: 2 tiles, 48 instructions a step) it stays at 168 registers, 3 warps per scheduler; without the tangent and the
# adjoint carry (also Π a, ν: 4 tiles, 96 instructions) it takes 132 (3 warps), 108 when capped at 128 (4), 96 (5)
_NOTAN = [("            if ADJ:  # ∂h_t/∂A with the segment's start state held: a_t (h'_{t-1} + Δ_t h_{t-1}), before h "
           "moves on\n                ht = decay * (ht + h * delta[None, :])\n", ""),
          ("                da += cd * ht\n", "")]
_NONU = [("                prod = prod * decay\n                nu += prod * cd\n", "")]
VARIANTS[("fwd", "notan")] = V("forward-time pass without the tangent (h', dA)", _NOTAN, launches=("grad",))
for _c in (None, 128, 96):
    VARIANTS[("fwd", "notan_nonu" + (f"_r{_c}" if _c else ""))] = V(
        "forward-time pass without the tangent and the adjoint carry" + (f", {_c} registers" if _c else ""),
        _NOTAN + _NONU, launches=("grad",), kw=dict(maxnreg=_c) if _c else {})
# register caps of the forward walks (occupancy: 16384 registers per scheduler, so ≤ 64 registers give 8 warps per
# scheduler, 72 give 7; the LOCAL launch is uncapped, the main pass at fwd_maxnreg)
for _c in (48, 56, 64, 72):
    VARIANTS[("fwd", f"loc_r{_c}")] = V(f"LOCAL pass at {_c} registers", same=True, launches=("loc",),
                                        kw=dict(maxnreg=_c))
for _c in (56, 64, 80, 88):
    VARIANTS[("fwd", f"main_r{_c}")] = V(f"main pass at {_c} registers", same=True, launches=("main",),
                                         kw=dict(maxnreg=_c))
for _c in (None, 80, 96, 128):  # None: the launch's own cap (fwd_maxnreg)
    VARIANTS[("fwd", "main_keep" + (f"_r{_c}" if _c else ""))] = V(
        "main pass also storing ypre and Σ_n A_n C_t h_t" + (f", {_c} registers" if _c else ""), _KEEP,
        launches=("main",), kw=dict(maxnreg=_c) if _c else {})
# outputs a result-preserving variant must reproduce (argument positions of each launch)
CHECKED = {"loc": (8, 9), "main": (7,), "grad": (7, 8, 12, 13, 14), "bwd": (12, 13), "carry_f": (5,),
           "carry_b": (5,)}


def resources(kern):
    """{(registers, spilled registers)} of the compiled specialisations of a JIT function (or a Launcher around
    one): how many warps a launch can keep per scheduler (16384 registers each) and whether it spills."""
    fn = kern if hasattr(kern, "device_caches") else getattr(kern, "fn", None)  # a Launcher holds it as .fn
    caches = getattr(fn, "device_caches", {})  # none under the interpreter
    return {(k.n_regs, k.n_spills) for cache in caches.values() for k in cache[0].values()}


def show(specs):
    """The printed form of :func:`resources`' set."""
    return "; ".join(f"{r} registers, {s} spilled" for r, s in sorted(specs)) or "(none new: compiled before)"


def patched_module(name, edits, tmp, base=None):
    src = Path(base or ROOT / "videomamba/ops/triton/scan.py").read_text()
    for old, new in edits:
        assert src.count(old) == 1, f"variant {name}: {old!r} found {src.count(old)} times in scan.py"
        src = src.replace(old, new)
    return import_copy(src, Path(tmp) / f"scan_{name.replace(':', '_')}.py")


class Capture:
    """Stands in for a kernel object: records every launch's grid and arguments, then launches."""

    def __init__(self, kernel):
        self.kernel, self.calls = kernel, []

    def __getitem__(self, grid):
        def launch(*args, **kw):
            self.calls.append((grid, args, kw))
            return self.kernel[grid](*args, **kw)
        return launch


def main():
    ap = argparse.ArgumentParser()
    add_shape_args(ap)
    ap.add_argument("--device", default="cuda", help="cpu: a smoke test under TRITON_INTERPRET=1")
    ap.add_argument("--only", default="", help="comma list of source:variant, source fwd, bwd or carry (default: all)")
    ap.add_argument("--alt", help="another scan.py with the same kernel signatures (e.g. an older tree's): variants "
                                  "fwd:alt, bwd:alt and carry:alt run its kernels on the same launches and must "
                                  "reproduce the unchanged outputs; a comma list adds alt1, alt2, ... for the "
                                  "further files")
    ap.add_argument("--alt-caps", default="", help="register caps for --alt: variants alt_r<cap>, e.g. 200,216")
    ap.add_argument("--config", default="", help="mixer CONFIG overrides for the captured step, k=v,k=v (ints)")
    a = ap.parse_args()
    for kv in filter(None, a.config.split(",")):
        k, v = kv.split("=")
        assert k in mixer.CONFIG, f"--config: no CONFIG key {k!r}"
        mixer.CONFIG[k] = int(v)
    for i, alt in enumerate(filter(None, (a.alt or "").split(","))):
        for src in KERNEL:  # the first file: variants alt (and its caps, direction-major); further ones alt1, alt2
            VARIANTS[(src, f"alt{i or ''}")] = V(f"kernel from {alt}", same=True, base=alt)
            for cap in filter(None, a.alt_caps.split(",") if not i else ()):
                VARIANTS[(src, f"alt_r{cap}")] = V(f"kernel from {alt}, {cap} registers", same=True, base=alt,
                                                   kw=dict(maxnreg=int(cap)))
            if src != "carry" and not i:
                VARIANTS[(src, "alt_dirmajor")] = V(f"kernel from {alt}, direction-major", [(IDS, IDS_DIRMAJOR)],
                                                    same=True, base=alt)
    names = [tuple(v.split(":")) for v in a.only.split(",")] if a.only else list(VARIANTS)
    dev = a.device
    bf = torch.bfloat16 if dev == "cuda" else torch.float32
    cuda = dev == "cuda"
    sync = torch.cuda.synchronize if cuda else (lambda: None)
    E = 2 * a.dim
    p, xz, xc, x_dbl, dt = scan_inputs(a.dim, a.frames, a.batch, dev, bf)
    y = torch.empty(*xz.shape, device=dev, dtype=bf)
    caps = {k: Capture(getattr(mixer, v)) for k, v in KERNEL.items()}
    for k, v in KERNEL.items():
        setattr(mixer, v, caps[k])
    try:  # as in training: LOCAL + main pass keeping the start states, then the inner backward
        seg, _, _, h0 = mixer._scan_fwd(xc, dt, x_dbl, xz, p, y, save_h0=True)
        mixer.inner_backward(xz, p, xz[..., :E].contiguous(), bf, kept=mixer.Kept(h0, seg, x_dbl))
    finally:
        for k, v in KERNEL.items():
            setattr(mixer, v, caps[k].kernel)
    sync()
    fwd_calls, carry_calls = caps["fwd"].calls, caps["carry"].calls
    assert len(fwd_calls) == 3, f"expected LOCAL, main and forward-time launches, got {len(fwd_calls)}"
    assert len(carry_calls) == 2, f"expected two carry walks, got {len(carry_calls)}"
    launches = dict(loc=fwd_calls[0], main=fwd_calls[1], grad=fwd_calls[2], bwd=caps["bwd"].calls[-1],
                    carry_f=carry_calls[0], carry_b=carry_calls[1])
    src_of = {ln: src for src, lns in LAUNCHES.items() for ln in lns}
    tmp = tempfile.mkdtemp(prefix="ablate_")
    kernels = {}
    for src, vname in names:
        v = VARIANTS[(src, vname)]
        try:
            kern = getattr(patched_module(f"{src}_{vname}", v["edits"], tmp, v["base"]), KERNEL[src]) \
                if v["edits"] or v["base"] else caps[src].kernel
        except Exception as e:  # a variant that does not build is reported, not fatal
            print(f"{src}:{vname}: failed: {type(e).__name__}: {str(e)[:300]}", flush=True)
            continue
        for ln in v["launches"] or LAUNCHES[src]:
            kernels[(ln, vname)] = (kern, v["kw"])

    def runner(ln, kernel, over=None):
        grid, args, kw = launches[ln]
        kw = dict(kw, **(over or {}))
        return lambda: kernel[grid](*args, **kw)

    def outputs(ln):
        return [launches[ln][1][i].clone() for i in CHECKED[ln]]

    used = sorted({ln for ln, _ in kernels})
    ref = {}
    for ln in used:
        runner(ln, caps[src_of[ln]].kernel)()
        sync()
        ref[ln] = outputs(ln)
    for src in sorted({src_of[ln] for ln in used}):
        print(f"{src}: unchanged kernels: {show(resources(caps[src].kernel))}", flush=True)
    for (ln, vname), (kern, over) in list(kernels.items()):
        before = resources(kern)
        try:
            runner(ln, kern, over)()
            sync()
        except Exception as e:
            print(f"{ln}:{vname}: launch failed: {type(e).__name__}: {str(e)[:300]}", flush=True)
            del kernels[(ln, vname)]
            continue
        if VARIANTS[(src_of[ln], vname)]["same"]:
            same = all(torch.equal(u, v) for u, v in zip(outputs(ln), ref[ln]))
            print(f"{ln}:{vname}: outputs identical to the unchanged kernel: {same}", flush=True)
        print(f"{ln}:{vname}: {show(resources(kern) - before)}", flush=True)
    for r in range(a.rounds):
        base = {ln: time_steps(runner(ln, caps[src_of[ln]].kernel), 2, 10, cuda=cuda, min_time=0.5)[0] * 1e3
                for ln in used}
        for ln in used:
            print(f"round {r} {ln}: unchanged {base[ln]:.3f} ms", flush=True)
        for (ln, vname), (kern, over) in kernels.items():
            ms = time_steps(runner(ln, kern, over), 2, 10, cuda=cuda, min_time=0.5)[0] * 1e3
            d = ms - base[ln]
            print(f"round {r} {ln + ':' + vname:14s} {ms:7.3f} ms  ({d:+.3f} ms, {100 * d / base[ln]:+5.1f} %)  "
                  f"{VARIANTS[(src_of[ln], vname)]['what']}", flush=True)


if __name__ == "__main__":
    main()
