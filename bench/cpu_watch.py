#!/usr/bin/env python3
# Who is busy during a bench run: once a second, the CPU share of wrk and of
# each nginx worker over that second (from /proc/PID/stat), beside the case
# bench/run.sh was timing then. A case in which neither the worker nor wrk
# is near 100% is limited by neither, and its rate is not the module's cost.
# Figures only, never a test.
#
#   bench/run.sh > /tmp/bench.log 2>&1 &  bench/cpu_watch.py /tmp/bench.log
import os
import sys
import time

HZ = os.sysconf("SC_CLK_TCK")


def cpu_ticks():
    ticks = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace")
            with open(f"/proc/{pid}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        if cmd.startswith("wrk "):
            name = f"wrk[{pid}]"
        elif cmd.startswith("nginx: worker"):
            name = f"worker[{pid}]"
        else:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        ticks[name] = int(fields[11]) + int(fields[12])  # utime + stime
    return ticks


def current_case(log):
    try:
        with open(log) as f:
            text = f.read()
    except OSError:
        return "", False
    rounds = [line.strip() for line in text.splitlines() if line.startswith(">>> round")]
    return (rounds[-1] if rounds else ""), "run time:" in text


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: bench/cpu_watch.py BENCH_LOG")
    before = cpu_ticks()
    while True:
        time.sleep(1)
        now = cpu_ticks()
        case, finished = current_case(sys.argv[1])
        shares = " ".join(f"{name}={100 * (now[name] - before[name]) / HZ:.0f}%"
                          for name in sorted(now) if name in before and now[name] - before[name] > 0)
        if case and shares:
            print(f"{case}  {shares}", flush=True)
        before = now
        if finished:
            return


main()
