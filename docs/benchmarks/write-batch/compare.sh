#!/bin/bash
# Alternates pgbench runs of bench_wb() (wrapper.sql) over the functions
# named, at concurrency 1, and prints each function's median latency and
# server CPU per call over the rounds. The CPU is what the postmaster's
# reaped children used (its cutime and cstime), so this runs on the
# server's host (the oldest `postgres` process is taken for the
# postmaster: one cluster per host); autovacuum workers that exit during
# a run count too, the WAL writer does not.
#
#   compare.sh DATABASE ROUNDS SECONDS FUNCTION...
#
# Commits are asynchronous unless PGOPTIONS says otherwise, to leave the
# disk's flush out of the comparison.
set -euo pipefail
db=$1 rounds=$2 seconds=$3
shift 3
postmaster=$(pgrep -o -x postgres)
children_cpu() { awk '{print $16 + $17}' "/proc/$postmaster/stat"; }
script=$(mktemp)
trap 'rm -f "$script"' EXIT
for round in $(seq "$rounds"); do
    for fn in "$@"; do
        echo "SELECT bench_wb('$fn');" > "$script"
        before=$(children_cpu)
        if ! out=$(PGOPTIONS=${PGOPTIONS:--c synchronous_commit=off} \
            pgbench -n -h "${PGHOST:-/var/run/postgresql}" -U "${PGUSER:-postgres}" \
            -c 1 -T "$seconds" -f "$script" "$db" 2>&1); then
            echo "$out" >&2
            exit 1
        fi
        sleep 0.3 # until the backend has exited and been reaped
        after=$(children_cpu)
        calls=$(echo "$out" | awk '/actually processed/ {split($NF, n, "/"); print n[1]}')
        latency=$(echo "$out" | awk '/latency average/ {print $4}')
        if [ "${calls:-0}" -le 0 ]; then
            echo "$fn: pgbench ran no call" >&2
            exit 1
        fi
        echo "$round $fn $latency $(( (after - before) * 1000000 / $(getconf CLK_TCK) / calls ))"
    done
done | tee /dev/stderr | sort -k2,2 -s | awk '
    { lat[$2] = lat[$2] " " $3; cpu[$2] = cpu[$2] " " $4 }
    function median(list,   v, n, i, j, t) {
        n = split(list, v, " ")
        for (i = 2; i <= n; i++) for (j = i; j > 1 && v[j-1] + 0 > v[j] + 0; j--) { t = v[j]; v[j] = v[j-1]; v[j-1] = t }
        return n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
    }
    END { for (fn in lat) printf "%-24s latency median %.3f ms  server CPU median %d us a call\n", fn, median(lat[fn]), median(cpu[fn]) }'
