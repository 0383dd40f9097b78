#!/usr/bin/env bash
# Stall reasons, occupancy and pipe use of the scan kernels (second round of scan_once.py), on the GPU machine.
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
NCU=$(command -v ncu || ls /opt/nvidia/nsight-compute/*/ncu 2>/dev/null | head -1)
STALLS=""
for r in long_scoreboard short_scoreboard math_pipe_throttle wait not_selected selected mio_throttle lg_throttle \
         barrier membar dispatch_stall no_instruction drain branch_resolving tex_throttle imc_miss; do
  STALLS="$STALLS,smsp__average_warps_issue_stalled_${r}_per_issue_active.ratio"
done
KERNELS=${KERNELS:-scan_}
SKIP=${SKIP:-4}
COUNT=${COUNT:-4}
METRICS="l1tex__t_sectors_pipe_lsu_mem_global_op_ld.sum,l1tex__t_sectors_pipe_lsu_mem_global_op_st.sum,l1tex__t_sectors_pipe_lsu_mem_global_op_red.sum,l1tex__t_requests_pipe_lsu_mem_global_op_red.sum,lts__t_sectors_srcunit_tex_op_read.sum,lts__t_sectors_srcunit_tex_op_write.sum,l1tex__m_xbar2l1tex_read_bytes.sum,l1tex__data_bank_conflicts_pipe_lsu.sum,gpu__time_duration.sum,launch__registers_per_thread,launch__grid_size,sm__warps_active.avg.pct_of_peak_sustained_active,smsp__issue_active.avg.pct_of_peak_sustained_active,smsp__inst_executed_pipe_xu.avg.pct_of_peak_sustained_active,smsp__inst_executed_pipe_fma.avg.pct_of_peak_sustained_active,smsp__inst_executed_pipe_lsu.avg.pct_of_peak_sustained_active,smsp__inst_executed.sum,dram__throughput.avg.pct_of_peak_sustained_elapsed,lts__t_sectors_op_red.sum,lts__throughput.avg.pct_of_peak_sustained_elapsed,l1tex__throughput.avg.pct_of_peak_sustained_active,smsp__warps_eligible.avg.per_cycle_active,launch__occupancy_limit_registers${STALLS}"
"$NCU" --clock-control none --kernel-name regex:"$KERNELS" --launch-skip "$SKIP" --launch-count "$COUNT" \
  --metrics "$METRICS" python tools/kernel_dev/scan_once.py > "$OUT/ncu_scan.txt" 2>&1
echo "ncu rc=$?"
grep -vE "^==PROF==|^\s*$|-----" "$OUT/ncu_scan.txt" | sed -E 's/smsp__average_warps_issue_stalled_(.*)_per_issue_active.ratio/stall_\1/; s/ +/ /g' | tail -150
