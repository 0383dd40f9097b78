"""Selective scan of both B-Mamba directions, forward and backward: sequential in time, state in registers.

Reference twins: :func:`videomamba.ops.selective_scan.selective_scan_ref` per direction and
:func:`videomamba.ops.bimamba.bimamba_inner_ref` for the pair.

Layout (all token-major, original sequence order; nothing is flipped in memory):

* ``x``  (2, B, L, E): conv+SiLU output of each direction (the backward one from an anti-causal conv);
* ``dt`` (2, B, L, E): Δ before bias and softplus (the ``dt_proj`` GEMM output);
* ``bc`` (2, B, L, P): ``x_proj`` output in fp32; B at columns ``R:R+N``, C at ``R+N:R+2N`` (``R`` is the
  B offset: 0 with the mixer's [B | C | δ_low | pad] layout);
* ``z``: the gate half of ``xz`` (row stride 2E).

A program owns (batch b, direction d, a block of BLOCK_E channels, a segment of SEG steps) and walks its
segment step by step in its direction's time (the backward direction reads row ``L-1-s`` at step ``s``),
with the state h as an [N, BLOCK_E] fp32 tile in registers: lanes run along the channels, so each thread
holds the N states of its channel and the sums over N (y, and the backward's per-channel terms) stay inside
the thread. That layout is forced, whatever the Triton version's defaults: every tile and channel vector is
addressed with offsets that are contiguous along the channels but of unknown alignment (``+ (one - 1)``
with a runtime ``one``), so the coalescing pass puts one channel on each lane and never vectorises across
channels (Triton 3.6 otherwise put the lanes on N, turning every Σ_N into shuffles: docs/perf_notes.md v5).
The inputs of a group of U steps are loaded before the group's math, so that U loads are in flight at once.
Each loop is compiled once per direction (``_fwd_walk``/``_bwd_walk`` with a constexpr ``REV``; the program picks
its copy) with the row strides as compile-time constants, so the steps of a group are immediate offsets.
These loops are latency-bound: their register caps (occupancy) matter more than instruction counts (v10, v16).

Segments make enough programs to fill the GPU. Because h_t is linear in the segment's start state,
``h_end = hloc + exp(A·ΣΔ) ⊙ h_start`` where ``hloc`` is the end state from a zero start; a light first
pass (``LOCAL``) writes (hloc, ΣΔ) per segment, ``scan_carry_kernel`` folds them into every segment's true
start state in one walk per chain, and the main pass starts from it. The training forward keeps those start
states, so the backward's forward-time pass needs no LOCAL pass.

Backward: two walks, neither of which stores or recomputes a state it does not carry. The forward-time pass
(``scan_fwd_kernel`` with ADJ, from the forward's saved segment start states) does every part of the gradient that
needs h_t: the un-gated output, dC_t = Σ_e dy_t h_t, dy_t Σ_n A_n C_t h_t (``dyf``), dA's local part through the
tangent h'_t = ∂h_t/∂A, and per segment its adjoint carry ν from a zero end value (λ is linear in its end value too,
so ``scan_carry_kernel`` folds the later segments' ν the same way, in reverse). The reverse walk
(``scan_bwd_kernel``) then runs the adjoint recurrence λ_t = C_t dy_t + a_{t+1} λ_{t+1} alone, in registers: dB, dx,
and dΔ, whose one term that couples λ and h (Σ_n A_n λ_t a_t h_{t-1}) follows from the recurrence of P_t = λ_t ⊙ h_t
and ``dyf`` (:func:`_bwd_walk`). dB/dC of a step are summed over the program's channels by recursive halving across
the lanes and added atomically into an fp32 (2, B·L, 2N) buffer. In both backward walks each lane holds its states in
a lane-dependent order (``PERM``, :func:`_slots`): then the first two halving steps, 12 of the 15 value pairs, are a
plain add of the partner lane's other half, with no per-lane select (perf_notes v20). dA, dD and dΔ-bias are
accumulated per program and added atomically at the end. (Until v15 the backward recomputed each 8-step chunk's
states into a scratch and walked them back: 2.6× this reverse walk's time; docs/perf_notes.md v16.)

State tiles in memory (A, segment carries, end states and tangents, dA) are stored as contiguous [N, BLOCK_E] blocks,
(..., E/BLOCK_E, N, BLOCK_E), so a tile is one base address plus immediates.
"""
import triton
import triton.language as tl

from .fastmath import LN2, LOG2E, sigmoid as _sigmoid, softplus as _softplus


@triton.jit
def _lane_xor(v, lane, m: tl.constexpr, AXIS: tl.constexpr):
    """v taken from lane ``lane ^ m`` along AXIS (lanes run along AXIS): a warp shuffle on the GPU."""
    if AXIS == 1:
        idx = tl.broadcast_to((lane ^ m)[None, :], v.shape)
    else:
        idx = lane ^ m
    return tl.gather(v, idx, axis=AXIS)


@triton.jit
def _halve(lo, hi, lane, m: tl.constexpr, AXIS: tl.constexpr):
    """One step of a recursive-halving reduction over lanes: lanes with bit m keep ``hi`` and send ``lo``."""
    if AXIS == 1:
        bit = ((lane & m) != 0)[None, :]
    else:
        bit = (lane & m) != 0
    return tl.where(bit, hi, lo) + _lane_xor(tl.where(bit, lo, hi), lane, m, AXIS)


@triton.jit
def _sum_over_lanes_16(v, lane, BLOCK_E: tl.constexpr, PERM: tl.constexpr):
    """Column sums of a [16, 32] tile whose 32 columns are the warp's lanes, as a [32] vector: the sum of row n
    on lanes n and n + 16. Recursive halving over lane bits 8, 4, 2, 1 (15 shuffles; each lane ends with one
    row's sum over its half of the warp), then one exchange across the halves: 16 shuffles in all instead of the
    5 × 16 of a butterfly per row (tl.sum), and no replicated partial results. PERM: the rows are slots in the
    lane order of :func:`_slots` (the result is the same: lane l ends with state l & 15)."""
    lo, hi = tl.split(tl.permute(tl.reshape(v, [2, 8, BLOCK_E]), (1, 2, 0)))
    if PERM:  # slots in lane order (_slots): the partner's hi slot holds the state of this lane's lo slot
        v = lo + _lane_xor(hi, lane, 8, 1)
    else:
        v = _halve(lo, hi, lane, 8, 1)                                          # [8, 32]
    lo, hi = tl.split(tl.permute(tl.reshape(v, [2, 4, BLOCK_E]), (1, 2, 0)))
    if PERM:
        v = lo + _lane_xor(hi, lane, 4, 1)
    else:
        v = _halve(lo, hi, lane, 4, 1)                                          # [4, 32]
    lo, hi = tl.split(tl.permute(tl.reshape(v, [2, 2, BLOCK_E]), (1, 2, 0)))
    v = _halve(lo, hi, lane, 2, 1)                                              # [2, 32]
    lo, hi = tl.split(tl.permute(v, (1, 0)))                                    # [32]
    v = _halve(lo, hi, lane, 1, 0)
    return v + _lane_xor(v, lane, 16, 0)


@triton.jit
def _add_state_sums(ptr, tile, lane, one, offs_n, mask_n, left, N: tl.constexpr, BLOCK_N: tl.constexpr,
                    BLOCK_E: tl.constexpr, PERM: tl.constexpr = False):
    """Atomically add the sums over the program's channels of an [N, BLOCK_E] tile to ``ptr[0:N]`` (a row of dB
    or dC) if ``left`` > 0 (the steps left in the segment: padded steps past its end add nothing). The lane halving
    needs the model's shape, 32 channels on one warp and N = 16; other shapes take tl.sum."""
    if (BLOCK_E == 32) and (BLOCK_N == 16) and (N == 16):
        tl.atomic_add(ptr + (lane & 15) + (one - 1), _sum_over_lanes_16(tile, lane, BLOCK_E, PERM),
                      mask=(lane < 16) & (lane * 0 + left > 0), sem="relaxed")
    else:
        tl.atomic_add(ptr + offs_n, tl.sum(tile, axis=1), mask=mask_n & (offs_n * 0 + left > 0), sem="relaxed")


@triton.jit
def _row_index(pid_b, s, L, rev):
    """Row index (int64) of step s of the direction (the backward direction walks rows L-1 → 0)."""
    t = tl.where(rev, L - 1 - s, s)
    return (pid_b * L + t).to(tl.int64)


@triton.jit
def _load_n(ptr, offs_n, mask_n, FULL: tl.constexpr = False):
    """B_t or C_t (fp32 in memory) as an [N, 1] column: every lane loads the same 16-byte vectors.
    FULL (BLOCK_N == N): no mask, so no zeroed default registers (CS2R) before each load."""
    if FULL:
        v = tl.load(ptr + offs_n)
    else:
        v = tl.load(ptr + offs_n, mask=mask_n, other=0.0)
    return v.to(tl.float32)[:, None]


@triton.jit
def _slots(offs_n, lane):
    """The lane-dependent state order of the backward walks (PERM): slot j (row j) of lane l's [N, BLOCK_E] tile
    holds state j ^ (4 · ((l >> 2) & 3)), so that partner lanes of the first two halving steps of
    :func:`_sum_over_lanes_16` hold each other's halves in the same slots."""
    return offs_n[:, None] ^ (((lane >> 2) & 3) * 4)[None, :]


@triton.jit
def _to_slots(t, lane, BLOCK_E: tl.constexpr, PERM: tl.constexpr):
    """A state tile in natural order (row n = state n, as loaded with :func:`_tile`) in the slot order of
    :func:`_slots`, or back (the permutation is its own inverse). Per-lane selects, at a program's start and end
    only: state tiles are loaded and stored in natural order, so that the coalescer keeps one channel per lane."""
    if PERM:
        lo, hi = tl.split(tl.permute(tl.reshape(t, [2, 8, BLOCK_E]), (1, 2, 0)))
        b = ((lane & 8) != 0)[None, :]
        t = tl.reshape(tl.permute(tl.join(tl.where(b, hi, lo), tl.where(b, lo, hi)), (2, 0, 1)), [16, BLOCK_E])
        lo, hi = tl.split(tl.permute(tl.reshape(t, [2, 2, 4, BLOCK_E]), (0, 2, 3, 1)))
        b = ((lane & 4) != 0)[None, None, :]
        t = tl.reshape(tl.permute(tl.join(tl.where(b, hi, lo), tl.where(b, lo, hi)), (0, 3, 1, 2)), [16, BLOCK_E])
    return t


@triton.jit
def _load_slots(ptr, offs_n, lane, mask_n, FULL: tl.constexpr, PERM: tl.constexpr, FAST: tl.constexpr):
    """B_t or C_t (fp32) in the tile's slot order (:func:`_slots`). PERM, compiled: each lane loads the
    four 16-byte blocks of its order at its own addresses by inline PTX, one block pointer per load and its four
    values as four outputs (a tl.load of the permuted tile takes Triton's coalesced layout, whose conversion to
    the state tile's goes through shared memory; a packed asm would depend on the tile's register order)."""
    if PERM:
        if FAST:
            blk = tl.arange(0, 4)[:, None] ^ ((lane >> 2) & 3)[None, :]
            v0, v1, v2, v3 = tl.inline_asm_elementwise("ld.global.v4.b32 {$0, $1, $2, $3}, [$4];", "=r,=r,=r,=r,l",
                                                       [ptr + blk * 4], dtype=(tl.float32,) * 4, is_pure=True, pack=1)
            v = tl.join(tl.join(v0, v1), tl.join(v2, v3))  # [4, BLOCK_E, 2, 2]: value 4k + 2q + p at [k, :, p, q]
            v = tl.reshape(tl.permute(v, (0, 3, 2, 1)), [16, v0.shape[1]])
        else:
            v = tl.load(ptr + _slots(offs_n, lane))
    else:
        v = _load_n(ptr, offs_n, mask_n, FULL)
    return v


@triton.jit
def _tile(lane_ptr, offs_n, BLOCK_E: tl.constexpr):
    """Pointers of an [N, BLOCK_E] state tile stored as one contiguous block (A, checkpoints, segment carries,
    scratch, dA), from ``lane_ptr`` = block start + ``lanes`` (one pointer per lane): rows at a compile-time
    stride, so each row is an immediate offset from the lane's one pointer (not a 64-bit address per state)."""
    return lane_ptr[None, :] + offs_n[:, None] * BLOCK_E


@triton.jit
def _ids(E, BLOCK_E: tl.constexpr):
    pid_b = tl.program_id(0)
    n_eb = tl.cdiv(E, BLOCK_E)
    d = tl.program_id(1) // n_eb
    eb = tl.program_id(1) % n_eb
    pid_s = tl.program_id(2)
    return pid_b, d, eb, pid_s


@triton.jit
def _program(a_ptr, d_ptr, bias_ptr, one, E, BLOCK_N: tl.constexpr, BLOCK_E: tl.constexpr, PERM: tl.constexpr):
    """What a scan program owns and its direction's per-channel parameters, shared by both kernels:
    (b, direction, channel block, segment), its channels' offsets and masks, and A·log2(e), D, Δ-bias."""
    pid_b, d, eb, pid_s = _ids(E, BLOCK_E)
    if PERM:  # the slot order and its reductions are written for the model's tile (mixer._slot_order)
        tl.static_assert((BLOCK_N == 16) and (BLOCK_E == 32), "PERM needs BLOCK_N == 16 and BLOCK_E == 32")
    lane = tl.arange(0, BLOCK_E)
    offs_e = eb * BLOCK_E + lane
    offs_n = tl.arange(0, BLOCK_N)
    mask_e = offs_e < E
    eo = offs_e + (one - 1)  # channel offsets: contiguous, alignment unknown (layout: see top)
    lanes = lane + (one - 1)  # the same within a state block
    n_eb = tl.cdiv(E, BLOCK_E)
    a2 = _to_slots(tl.load(_tile(a_ptr + (d * n_eb + eb) * BLOCK_N * BLOCK_E + lanes, offs_n, BLOCK_E)) * LOG2E,
                   lane, BLOCK_E, PERM)
    d_skip = tl.load(d_ptr + d * E + eo, mask=mask_e, other=0.0)
    bias = tl.load(bias_ptr + d * E + eo, mask=mask_e, other=0.0)
    return pid_b, d, eb, pid_s, lane, offs_e, offs_n, mask_e, eo, lanes, n_eb, a2, d_skip, bias


@triton.jit
def _load_channels(px, pdt, pz, pg, k0, seg_len, offs_e, mask_e, U: tl.constexpr, ST_X: tl.constexpr,
                   ST_Z: tl.constexpr, ST_G: tl.constexpr, LOAD_Z: tl.constexpr, LOAD_G: tl.constexpr):
    """Per-channel inputs (x, Δ, z, g; one value per lane each) of steps k0 .. k0+U-1 (pointers at step k0,
    rows ST_* elements apart: immediate offsets) as loaded, widened at their use; steps past the segment are
    masked. Issued a group ahead of their use: waiting on them was half of the forward's stall samples (ncu
    source-level sampling, perf_notes v5)."""
    ld = ()
    for u in tl.static_range(U):
        # the step's validity as a full-shape mask (a scalar mask is not accepted by every backend)
        me = mask_e & (offs_e * 0 + k0 + u < seg_len)
        x = tl.load(px + u * ST_X, mask=me, other=0.0)
        dtr = tl.load(pdt + u * ST_X, mask=me, other=0.0)
        z = tl.load(pz + u * ST_Z, mask=me, other=0.0) if LOAD_Z else x
        g = tl.load(pg + u * ST_G, mask=me, other=0.0) if LOAD_G else x
        ld = ld + ((me, x, dtr, z, g),)
    return ld


@triton.jit
def _fwd_walk(h, prod, nu, ht, da, sum_delta, px, pdt, pbc, pz, py, pg, pdf, pdc, one, lane, seg_len, offs_e, mask_e,
              offs_n, mask_n, a2, d_skip, bias,
              REV: tl.constexpr, E: tl.constexpr, SBC: tl.constexpr, SZ: tl.constexpr, SY: tl.constexpr,
              SG: tl.constexpr, N: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_E: tl.constexpr, U: tl.constexpr,
              LOCAL: tl.constexpr, WRITE_Y: tl.constexpr, ADJ: tl.constexpr, FAST: tl.constexpr,
              PERM: tl.constexpr):
    """The segment's steps in one direction, compiled per direction (REV): every row stride is a compile-time
    constant with its sign, so the steps of a group are immediate offsets from one pointer per input and the
    pointers move once per group (the runtime-signed form spent ≈ 30 of 163 instructions per step on address
    arithmetic, perf_notes v10).

    B/C rows are not clamped to the segment: steps past its end (only in the sequence's last segment, fewer
    than U) read the rows after it, which stay inside the (2, B·L, P) buffer (the forward direction runs into
    the backward direction's rows, the backward one into the forward's; inputs with B·L < U get zero guard
    rows around the buffer, ``mixer._guard_rows``), with Δ = x = 0, so h is unchanged while B/C are finite;
    ν adds C·0 (a non-finite C there means a non-finite loss anyway)."""
    SGN: tl.constexpr = -1 if REV else 1
    LOAD_CZ: tl.constexpr = WRITE_Y or ADJ
    FULL: tl.constexpr = BLOCK_N == N
    # groups of U steps; the channel loads of the next group are issued before this group's math
    # (two groups ahead was slower: 1.32 vs 1.21 ms)
    nxt = _load_channels(px, pdt, pz, pg, 0, seg_len, offs_e, mask_e, U, SGN * E, SGN * SZ, SGN * SG, LOAD_CZ, ADJ)
    for k0 in range(0, seg_len, U):
        cur = nxt
        px += U * SGN * E
        pdt += U * SGN * E
        pz += U * SGN * SZ
        pg += U * SGN * SG
        nxt = _load_channels(px, pdt, pz, pg, k0 + U, seg_len, offs_e, mask_e, U, SGN * E, SGN * SZ, SGN * SG,
                             LOAD_CZ, ADJ)
        for u in tl.static_range(U):
            me, x, dtr, z, g = cur[u]
            # B_t/C_t in the group that uses them (a group ahead cost more in occupancy than it saved)
            bm = _load_slots(pbc + u * SGN * SBC, offs_n, lane, mask_n, FULL, PERM, FAST)
            cm = _load_slots(pbc + u * SGN * SBC + N, offs_n, lane, mask_n, FULL, PERM, FAST) if LOAD_CZ else bm
            x = x.to(tl.float32)
            dtr = dtr.to(tl.float32)
            z = z.to(tl.float32)
            g = g.to(tl.float32)
            delta = tl.where(me, _softplus(dtr + bias, FAST), 0.0)
            decay = tl.exp2(a2 * delta[None, :])
            if ADJ:  # ∂h_t/∂A with the segment's start state held: a_t (h'_{t-1} + Δ_t h_{t-1}), before h moves on
                ht = decay * (ht + h * delta[None, :])
            h = decay * h + bm * (delta * x)[None, :]
            if LOCAL or ADJ:
                sum_delta += delta
            if ADJ:
                dy = g * z * _sigmoid(z, FAST)
                cd = cm * dy[None, :]  # ∂L/∂h_t through y_t alone
                prod = prod * decay
                nu += prod * cd
                da += cd * ht
                hc = h * cm
                ypre = tl.sum(hc, axis=0) + d_skip * x
                tl.store(py + u * SGN * SY, ypre.to(py.dtype.element_ty), mask=me)
                # dy_t Σ_n A_n C_t h_t (log2 units): the reverse walk's share of Σ_n A_n λ_t h_t
                tl.store(pdf + u * SGN * E, dy * tl.sum(hc * a2, axis=0), mask=me)
                _add_state_sums(pdc + u * SGN * 2 * N, h * dy[None, :], lane, one, offs_n, mask_n,
                                seg_len - (k0 + u), N, BLOCK_N, BLOCK_E, PERM)
            if WRITE_Y:
                y = tl.sum(h * cm, axis=0) + d_skip * x
                y = y * z * _sigmoid(z, FAST)
                tl.store(py + u * SGN * SY, y.to(py.dtype.element_ty), mask=me)
        pbc += U * SGN * SBC
        py += U * SGN * SY
        pdf += U * SGN * E
        pdc += U * SGN * 2 * N
    return h, prod, nu, ht, da, sum_delta


@triton.jit(do_not_specialize=["one"])
def scan_fwd_kernel(x_ptr, dt_ptr, bc_ptr, z_ptr, a_ptr, d_ptr, bias_ptr, y_ptr, hend_ptr, sdel_ptr, h0_ptr,
                    g_ptr, nu_ptr, ht_ptr, dyf_ptr, dbc_ptr, da_ptr,
                    one, B, L, R, SEG, n_seg,
                    E: tl.constexpr, SBC: tl.constexpr, SZ: tl.constexpr, SY: tl.constexpr, SG: tl.constexpr,
                    N: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_E: tl.constexpr,
                    U: tl.constexpr, LOCAL: tl.constexpr, WRITE_Y: tl.constexpr,
                    H0: tl.constexpr = False, ADJ: tl.constexpr = False, FAST: tl.constexpr = False,
                    PERM: tl.constexpr = False):
    """LOCAL: write (hloc, ΣΔ) of the segment from a zero start (segments 0..n_seg-2 only; hloc into ``hend``).

    Else the main pass, from the segment's start state in ``h0`` (H0; written by :func:`scan_carry_kernel`
    from the LOCAL pass, or kept by the training forward) or from zero (one segment), writing
    y[b, t, d*E + e] = (<h_t, C_t> + D x_t) * silu(z_t) (WRITE_Y).

    ADJ, the backward's forward-time pass (everything of the gradient that needs h_t, so that the reverse walk
    needs no state): the un-gated output ypre (into ``y``), dC_t = Σ_e dy_t h_t (atomically into columns N:2N
    of ``dbc``), dy_t Σ_n A_n C_t h_t (``dyf``, fp32, log2 units), the segment's share of dA, Σ_t (C_t dy_t) ⊙ h'_t
    with h'_t = ∂h_t/∂A from a held start state (atomically into ``da``), and per segment its end state
    (``hend``), its end tangent h'_end (``ht``; the later segments' adjoint reaches dA through it), ΣΔ and its
    adjoint carry from a zero end value, ν = Σ_t (Π_{s=start..t} a_s) ⊙ C_t dy_t with dy = g silu(z),
    accumulated forwards with the running decay product (multiplies only: no second pass, no exps).

    The row strides (E for x/Δ, SBC for x_proj's output, SZ/SY/SG for z, y, g; 0 where unused) are compile-time
    constants (one compile per model width), and the walk is compiled once per direction (:func:`_fwd_walk`)."""
    pid_b, d, eb, pid_s, lane, offs_e, offs_n, mask_e, eo, lanes, n_eb, a2, d_skip, bias = _program(
        a_ptr, d_ptr, bias_ptr, one, E, BLOCK_N, BLOCK_E, PERM)
    TILE: tl.constexpr = BLOCK_N * BLOCK_E
    rev = d == 1
    mask_n = offs_n < N
    seg_base = (d * B + pid_b).to(tl.int64) * n_seg
    h = tl.zeros([BLOCK_N, BLOCK_E], dtype=tl.float32)
    if H0:
        h = _to_slots(tl.load(_tile(h0_ptr + ((seg_base + pid_s) * n_eb + eb) * TILE + lanes, offs_n, BLOCK_E)),
                      lane, BLOCK_E, PERM)
    # ADJ only (the compiler drops them otherwise)
    prod = tl.full([BLOCK_N, BLOCK_E], 1.0, dtype=tl.float32)
    nu = tl.zeros([BLOCK_N, BLOCK_E], dtype=tl.float32)
    ht = tl.zeros([BLOCK_N, BLOCK_E], dtype=tl.float32)
    da = tl.zeros([BLOCK_N, BLOCK_E], dtype=tl.float32)
    s0 = pid_s * SEG
    seg_len = tl.minimum(SEG, L - s0)
    sum_delta = tl.zeros([BLOCK_E], dtype=tl.float32)
    # pointers of the segment's first row, moved a group of rows (±) per iteration
    row0 = _row_index(pid_b, s0, L, rev)
    xrow = d.to(tl.int64) * B * L * E + row0 * E + eo
    px = x_ptr + xrow
    pdt = dt_ptr + xrow
    pdf = dyf_ptr + xrow
    pbc = bc_ptr + d.to(tl.int64) * B * L * SBC + row0 * SBC + R
    pdc = dbc_ptr + (d.to(tl.int64) * B * L + row0) * 2 * N + N
    pz = z_ptr + row0 * SZ + eo
    py = y_ptr + row0 * SY + d * E + eo
    pg = g_ptr + row0 * SG + eo
    walk = (px, pdt, pbc, pz, py, pg, pdf, pdc, one, lane, seg_len, offs_e, mask_e, offs_n, mask_n, a2, d_skip, bias)
    if rev:
        h, prod, nu, ht, da, sum_delta = _fwd_walk(h, prod, nu, ht, da, sum_delta, *walk, True, E, SBC, SZ, SY, SG,
                                                   N, BLOCK_N, BLOCK_E, U, LOCAL, WRITE_Y, ADJ, FAST, PERM)
    else:
        h, prod, nu, ht, da, sum_delta = _fwd_walk(h, prod, nu, ht, da, sum_delta, *walk, False, E, SBC, SZ, SY,
                                                   SG, N, BLOCK_N, BLOCK_E, U, LOCAL, WRITE_Y, ADJ, FAST, PERM)
    seg_tile = ((seg_base + pid_s) * n_eb + eb) * TILE + lanes
    if LOCAL or ADJ:
        tl.store(_tile(hend_ptr + seg_tile, offs_n, BLOCK_E), _to_slots(h, lane, BLOCK_E, PERM))
        tl.store(sdel_ptr + (seg_base + pid_s) * E + eo, sum_delta, mask=mask_e)
    if ADJ:
        tl.store(_tile(nu_ptr + seg_tile, offs_n, BLOCK_E), _to_slots(nu, lane, BLOCK_E, PERM))
        tl.store(_tile(ht_ptr + seg_tile, offs_n, BLOCK_E), _to_slots(ht, lane, BLOCK_E, PERM))
        tl.atomic_add(_tile(da_ptr + (d * n_eb + eb) * TILE + lanes, offs_n, BLOCK_E),
                      _to_slots(da, lane, BLOCK_E, PERM), sem="relaxed")


@triton.jit(do_not_specialize=["one"])
def scan_carry_kernel(src_ptr, sdel_ptr, a_ptr, d_ptr, bias_ptr, dst_ptr, one, B, E, n_seg,
                      N: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_E: tl.constexpr, REVERSE: tl.constexpr,
                      G: tl.constexpr):
    """Every segment's carry from the per-segment pairs, in one walk over the segments per (b, direction,
    channel block): O(n_seg) exps per chain. (Each scan program used to fold its predecessors itself:
    O(n_seg²) per chain, which dominated at short segments, i.e. small batches.)

    Forward (start states): dst[0] = 0, dst[k] = src[k-1] + 2^(A·log2e·ΣΔ[k-1]) ⊙ dst[k-1], src = hloc.
    REVERSE (the backward's adjoint carries): dst[n-1] = 0, dst[k] = src[k+1] + 2^(…ΣΔ[k+1]) ⊙ dst[k+1], src = ν.

    The walk is a chain of dependent updates over few programs (one per chain), so it is bound by load
    latency: the inputs of G segments are loaded before their G updates (one wait per group instead of one per
    segment: 86 → 24 µs per launch at 83 segments with G = 32 on 4 warps, docs/perf_notes.md v9).
    """
    pid_b, d, eb, _, lane, offs_e, offs_n, mask_e, eo, lanes, n_eb, a2, _, _ = _program(
        a_ptr, d_ptr, bias_ptr, one, E, BLOCK_N, BLOCK_E, False)
    TILE: tl.constexpr = BLOCK_N * BLOCK_E
    seg_base = (d * B + pid_b).to(tl.int64) * n_seg
    h = tl.zeros([BLOCK_N, BLOCK_E], dtype=tl.float32)
    zero_tile = tl.zeros([BLOCK_N, BLOCK_E], dtype=tl.int32)
    for kk0 in range(0, n_seg - 1, G):
        ld = ()
        for u in tl.static_range(G):
            kk = kk0 + u
            ok = kk < n_seg - 1
            k = tl.where(ok, n_seg - 1 - kk if REVERSE else kk, 0)  # past the end: segment 0's address, masked
            hl = tl.load(_tile(src_ptr + ((seg_base + k) * n_eb + eb) * TILE + lanes, offs_n, BLOCK_E),
                         mask=(zero_tile + kk) < n_seg - 1, other=0.0)
            sd = tl.load(sdel_ptr + (seg_base + k) * E + eo, mask=mask_e & ((offs_e * 0 + kk) < n_seg - 1),
                         other=0.0)
            ld = ld + ((k, hl, sd),)
        for u in tl.static_range(G):
            k, hl, sd = ld[u]
            ok = (zero_tile + kk0 + u) < n_seg - 1
            tl.store(_tile(dst_ptr + ((seg_base + k) * n_eb + eb) * TILE + lanes, offs_n, BLOCK_E), h, mask=ok)
            h = tl.where(ok, hl + tl.exp2(a2 * sd[None, :]) * h, h)
    k_last = 0 if REVERSE else n_seg - 1
    tl.store(_tile(dst_ptr + ((seg_base + k_last) * n_eb + eb) * TILE + lanes, offs_n, BLOCK_E), h)


@triton.jit
def _bwd_walk(m, q, dd_acc, dbias_acc, x_ptr, dt_ptr, bc_ptr, z_ptr, g_ptr, dyf_ptr, dx_ptr, ddt_ptr, dbc_ptr, one,
              pid_b, d, lane, offs_e, mask_e, offs_n, mask_n, eo, a2, d_skip, bias, B, L, s_seg, seg_len,
              REV: tl.constexpr, E: tl.constexpr, SBC: tl.constexpr, SZ: tl.constexpr, SG: tl.constexpr,
              R: tl.constexpr, N: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_E: tl.constexpr, FAST: tl.constexpr,
              PERM: tl.constexpr):
    """The segment's steps in reverse, compiled per direction (REV) with compile-time row strides, as
    :func:`_fwd_walk`. The adjoint recurrence only: λ_t = C_t dy_t + a_{t+1} λ_{t+1} in registers, no state h.

    The one term of dΔ that couples λ and h, Σ_n A_n λ_t a_t h_{t-1} = Σ_n A_n (P_t − λ_t b_t) with P_t = λ_t ⊙ h_t,
    comes from P's own recurrence, P_t = P_{t+1} + C_t dy_t h_t − λ_{t+1} b_{t+1}: Σ_n A_n P_t is the running sum
    ``q`` (started at Σ_n A_n ⊙ m ⊙ h_end), adding the forward-time pass's dy_t Σ_n A_n C_t h_t (``dyf``) and
    removing this walk's Σ_n A_n λ_t b_t. Its partial sums are P itself, so nothing large cancels."""
    SGN: tl.constexpr = -1 if REV else 1
    ST_X: tl.constexpr = SGN * E
    ST_BC: tl.constexpr = SGN * SBC
    ST_Z: tl.constexpr = SGN * SZ
    ST_G: tl.constexpr = SGN * SG
    ST_DBC: tl.constexpr = SGN * 2 * N
    FULL: tl.constexpr = BLOCK_N == N
    row = _row_index(pid_b, s_seg, L, REV)
    last = (seg_len - 1).to(tl.int64)
    # pointers at the segment's last step, moved back one step per iteration; x, Δ, dyf, dx and dΔ share a layout
    xo = d.to(tl.int64) * B * L * E + row * E + eo + last * ST_X
    pz = z_ptr + row * SZ + eo + last * ST_Z
    pg = g_ptr + row * SG + eo + last * ST_G
    pbc = bc_ptr + d.to(tl.int64) * B * L * SBC + R + row * SBC + last * ST_BC
    pdbc = dbc_ptr + (d.to(tl.int64) * B * L + row) * 2 * N + last * ST_DBC
    # channel loads two steps ahead: one step ahead, ptxas sank them to the step's end and the next step's first use
    # of Δ held 17 % of the stall samples (ncu, perf_notes v15)
    x_nx = tl.load(x_ptr + xo, mask=mask_e, other=0.0)
    dt_nx = tl.load(dt_ptr + xo, mask=mask_e, other=0.0)
    f_nx = tl.load(dyf_ptr + xo, mask=mask_e, other=0.0)
    z_nx = tl.load(pz, mask=mask_e, other=0.0)
    g_nx = tl.load(pg, mask=mask_e, other=0.0)
    m_n2 = mask_e & (offs_e * 0 + seg_len >= 2)
    x_n2 = tl.load(x_ptr + xo - ST_X, mask=m_n2, other=0.0)
    dt_n2 = tl.load(dt_ptr + xo - ST_X, mask=m_n2, other=0.0)
    f_n2 = tl.load(dyf_ptr + xo - ST_X, mask=m_n2, other=0.0)
    z_n2 = tl.load(pz - ST_Z, mask=m_n2, other=0.0)
    g_n2 = tl.load(pg - ST_G, mask=m_n2, other=0.0)
    for ii in range(0, seg_len):
        i = seg_len - 1 - ii
        x = x_nx.to(tl.float32)
        dtr = dt_nx.to(tl.float32)
        dyf = f_nx
        z = z_nx.to(tl.float32)
        g = g_nx.to(tl.float32)
        x_nx, dt_nx, f_nx, z_nx, g_nx = x_n2, dt_n2, f_n2, z_n2, g_n2
        m_n2 = mask_e & (offs_e * 0 + i >= 2)
        x_n2 = tl.load(x_ptr + xo - 2 * ST_X, mask=m_n2, other=0.0)
        dt_n2 = tl.load(dt_ptr + xo - 2 * ST_X, mask=m_n2, other=0.0)
        f_n2 = tl.load(dyf_ptr + xo - 2 * ST_X, mask=m_n2, other=0.0)
        z_n2 = tl.load(pz - 2 * ST_Z, mask=m_n2, other=0.0)
        g_n2 = tl.load(pg - 2 * ST_G, mask=m_n2, other=0.0)
        bm = _load_slots(pbc, offs_n, lane, mask_n, FULL, PERM, FAST)
        cm = _load_slots(pbc + N, offs_n, lane, mask_n, FULL, PERM, FAST)
        delta = tl.where(mask_e, _softplus(dtr + bias, FAST), 0.0)
        dy = g * z * _sigmoid(z, FAST)
        lam = cm * dy[None, :] + m
        db = lam * (delta * x)[None, :]  # λ_t ⊙ b_t / B_t
        _add_state_sums(pdbc, db, lane, one, offs_n, mask_n, 1, N, BLOCK_N, BLOCK_E, PERM)
        lam_b = tl.sum(lam * bm, axis=0)
        ab = tl.sum(db * (bm * a2), axis=0)  # Σ_n A_n λ_t b_t (log2 units)
        q += dyf  # Σ_n A_n P_t
        ddelta = x * lam_b + LN2 * (q - ab)
        q -= ab
        m = tl.exp2(a2 * delta[None, :]) * lam  # a_t λ_t: the carry into step t-1
        dx = d_skip * dy + delta * lam_b
        ddt = tl.where(mask_e, ddelta * _sigmoid(dtr + bias, FAST), 0.0)
        tl.store(dx_ptr + xo, dx.to(dx_ptr.dtype.element_ty), mask=mask_e)
        tl.store(ddt_ptr + xo, ddt.to(ddt_ptr.dtype.element_ty), mask=mask_e)
        dd_acc += dy * x
        dbias_acc += ddt
        xo -= ST_X
        pbc -= ST_BC
        pz -= ST_Z
        pg -= ST_G
        pdbc -= ST_DBC
    return dd_acc, dbias_acc


@triton.jit(do_not_specialize=["one"])
def scan_bwd_kernel(x_ptr, dt_ptr, bc_ptr, z_ptr, a_ptr, d_ptr, bias_ptr, m_ptr, hend_ptr, ht_ptr, g_ptr, dyf_ptr,
                    dx_ptr, ddt_ptr, dbc_ptr, da_ptr, dd_ptr, dbias_ptr,
                    one, B, L, SEG, n_seg,
                    E: tl.constexpr, R: tl.constexpr, SBC: tl.constexpr, SZ: tl.constexpr, SG: tl.constexpr,
                    N: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_E: tl.constexpr, FAST: tl.constexpr = False,
                    PERM: tl.constexpr = False):
    """The reverse walk of the scan's gradient given ``g`` = dLoss/d(gated output) (shared by both directions),
    after the forward-time pass (``scan_fwd_kernel`` with ADJ) and the adjoint carries.

    Writes dx and dΔ (pre softplus); adds dB (fp32, columns 0:N of (2, B·L, 2N)), dD and dΔ-bias (2, E), and dA's
    part through the segment's end state, m ⊙ h'_end, atomically (zero them first).
    Row strides (E, SBC, SZ, SG) and the B column offset R are compile-time constants, as in the forward.
    """
    # only A·log2(e) is kept (registers): A's sums are in log2 units, times ln 2 where they enter dΔ
    pid_b, d, eb, pid_s, lane, offs_e, offs_n, mask_e, eo, lanes, n_eb, a2, d_skip, bias = _program(
        a_ptr, d_ptr, bias_ptr, one, E, BLOCK_N, BLOCK_E, PERM)
    TILE: tl.constexpr = BLOCK_N * BLOCK_E
    mask_n = offs_n < N
    seg_base = (d * B + pid_b).to(tl.int64) * n_seg
    seg_tile = ((seg_base + pid_s) * n_eb + eb) * TILE + lanes
    # adjoint carry entering the segment's last step from the later segments: m = a_{end+1} ⊙ λ_{end+1}
    # (folded over the later segments by scan_carry_kernel, REVERSE); it reaches h_end and, through h'_end, dA
    m = tl.load(_tile(m_ptr + seg_tile, offs_n, BLOCK_E))  # natural order here; in slot order for the walk
    q = tl.sum(a2 * _to_slots(m * tl.load(_tile(hend_ptr + seg_tile, offs_n, BLOCK_E)), lane, BLOCK_E, PERM), axis=0)
    tl.atomic_add(_tile(da_ptr + (d * n_eb + eb) * TILE + lanes, offs_n, BLOCK_E),
                  m * tl.load(_tile(ht_ptr + seg_tile, offs_n, BLOCK_E)), sem="relaxed")
    m = _to_slots(m, lane, BLOCK_E, PERM)
    dd_acc = tl.zeros([BLOCK_E], dtype=tl.float32)
    dbias_acc = tl.zeros([BLOCK_E], dtype=tl.float32)
    s_seg = pid_s * SEG
    seg_len = tl.minimum(SEG, L - s_seg)
    walk = (x_ptr, dt_ptr, bc_ptr, z_ptr, g_ptr, dyf_ptr, dx_ptr, ddt_ptr, dbc_ptr, one, pid_b, d, lane, offs_e,
            mask_e, offs_n, mask_n, eo, a2, d_skip, bias, B, L, s_seg, seg_len)
    if d == 1:
        dd_acc, dbias_acc = _bwd_walk(m, q, dd_acc, dbias_acc, *walk, True, E, SBC, SZ, SG, R, N, BLOCK_N, BLOCK_E,
                                      FAST, PERM)
    else:
        dd_acc, dbias_acc = _bwd_walk(m, q, dd_acc, dbias_acc, *walk, False, E, SBC, SZ, SG, R, N, BLOCK_N, BLOCK_E,
                                      FAST, PERM)
    tl.atomic_add(dd_ptr + d * E + eo, dd_acc, mask=mask_e, sem="relaxed")
    tl.atomic_add(dbias_ptr + d * E + eo, dbias_acc, mask=mask_e, sem="relaxed")
