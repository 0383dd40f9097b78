"""Offline PTX instruction counts of scan_fwd_kernel for sm_90 (no GPU needed): loads, shared memory,
shuffles, ex2. Usage: python tools/scan_ptx.py BC_VEC(0|1) [aligned]  ("aligned" marks stride_bc and the B
offset divisible by 16, as Triton specialises them at run time when bc_pad is on). PTX written to /tmp."""
import sys, re, torch, triton
sys.path.insert(0, __import__("os").path.join(__import__("os").path.dirname(__import__("os").path.abspath(__file__)), "..", ".."))
from triton.backends.compiler import GPUTarget
from triton.compiler import ASTSource
from videomamba.ops.triton.scan import scan_fwd_kernel
sig = {}
names = scan_fwd_kernel.arg_names
ptrs = ["x_ptr","dt_ptr","bc_ptr","z_ptr","a_ptr","d_ptr","bias_ptr","y_ptr","hloc_ptr","sdel_ptr","ck_ptr"]
dt = {"x_ptr":"*bf16","dt_ptr":"*bf16","bc_ptr":"*bf16","z_ptr":"*bf16","a_ptr":"*fp32","d_ptr":"*fp32","bias_ptr":"*fp32","y_ptr":"*bf16","hloc_ptr":"*fp32","sdel_ptr":"*fp32","ck_ptr":"*bf16"}
bcvec = int(sys.argv[1])
const = dict(N=16, BLOCK_N=16, BLOCK_E=32, CH=16, U=4, LOCAL=False, WRITE_Y=True, WRITE_CK=False, BC_VEC=bool(bcvec))
for n in names:
    if n in dt: sig[n] = dt[n]
    elif n in const: sig[n] = "constexpr"
    else: sig[n] = "i32"
attrs = {(names.index(n),): [["tt.divisibility", 16]] for n in list(dt) + (["stride_bc", "R"] if len(sys.argv) > 2 else [])}
src = ASTSource(scan_fwd_kernel, sig, constexprs={(names.index(k),): v for k, v in const.items()}, attrs=attrs)
k = triton.compile(src, target=GPUTarget("cuda", 90, 32), options=dict(num_warps=1))
ptx = k.asm["ptx"]
for pat in ["ld.global", "ld.shared", "st.shared", "shfl", "ex2.approx", "bar.sync", "atom"]:
    print(pat, len(re.findall(pat, ptx)))
open(f"/tmp/scan_fwd_bcvec{bcvec}.ptx","w").write(ptx)
