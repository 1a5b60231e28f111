#!/usr/bin/env bash
# Benchmark: lbd's `tcp` checks against keepalived's TCP_CHECK, same load, same lab boot.
#
#   benches/checks_vs_keepalived.sh [N [D]]     N nodes (default 10000), D seconds (default 60)
#
# On the host it builds `lbd`, `lbctl` and `examples/accept_counter` in release mode, then runs
# itself with `--in-lab` in ONE qemu lab boot (`vagrant/lab run`, which has IPVS). There, each
# tool in turn gets a fresh network namespace (deleted on exit, also on failure) holding:
#   - accept_counter on 0.0.0.0:18080: every 127.1.x.y is local on `lo`, so it serves all N nodes
#     and counts accepted connections (checks/s for both tools, measured the same way), per node
#     too (longest gap between two checks of one node);
#   - the checker, checking N nodes 127.1.(i/250).(i%250+1):18080 with a TCP connect every 1 s:
#     lbd: the real daemon (one NAT rr service 192.0.2.10:80 over one hostgroup of N nodes,
#       `watch: {monitor: tcp, interval: 1s, timeout: 900ms}`, hostgroup `ping: false` since
#       keepalived pings nothing);
#     keepalived: `keepalived --check` with the same virtual server, `delay_loop 1` and
#       `TCP_CHECK { connect_timeout 1 }` per real server.
# Each tool programs IPVS with its N real servers; once the table holds all N (and a few seconds
# more so the first interval's spread is over), a D-second window is measured: checks/s and
# per-node gaps from the counter, CPU (utime+stime from /proc/PID/stat, % of one core) of the
# tool's processes (lbd's one; keepalived's parent + checker child) and of the counter, peak
# memory (VmHWM, summed), the guest's busy share. One table and the ratios are printed at the end.
#
# Environment (passed into the lab): LBD_KACHECK_TOOLS (what runs, in order, default
# "lbd keepalived"; `lbd@PATH` runs another lbd binary, e.g. a copy built before a change),
# LBD_KACHECK_RECONCILE (lbd's reconcile_interval, default 10s as shipped), LBD_KACHECK_PROFILE=perf|strace
# (`perf record` / `strace -c -f` the checker process during the window and print the top of
# the profile / the syscall counts: the CPU figures then include the profiler's cost, far from
# negligible under TCG), LBD_LAB_CPUS.
# Results go in BENCHMARKS.md under "Monitors".
set -euo pipefail
self=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/$(basename "${BASH_SOURCE[0]}")
project=$(cd "$(dirname "$self")/.." && pwd)
port=18080

if [ "${1:-}" != "--in-lab" ]; then
    n=${1:-10000}
    d=${2:-60}
    [[ $n =~ ^[0-9]+$ && $n -ge 1 && $n -le 64000 ]] || { echo "N must be 1..64000" >&2; exit 2; }
    [[ $d =~ ^[0-9]+$ && $d -ge 1 ]] || { echo "D must be a number of seconds" >&2; exit 2; }
    cd "$project"
    export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$project/target}
    cargo build --release --locked --bin lbd --bin lbctl --example accept_counter >&2
    echo "host: $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, load before: $(cut -d' ' -f1-3 /proc/loadavg)"
    status=0
    ntools=$(wc -w <<<"${LBD_KACHECK_TOOLS:-lbd keepalived}")
    vagrant/lab run --timeout $((ntools * (d + 240) + 60)) -- \
        "$self" --in-lab "$CARGO_TARGET_DIR/release" "$n" "$d" || status=$?
    echo "host: load after: $(cut -d' ' -f1-3 /proc/loadavg)"
    exit "$status"
fi

# --- inside the lab guest
bins=$2
n=$3
d=$4
tools=${LBD_KACHECK_TOOLS:-lbd keepalived}
reconcile=${LBD_KACHECK_RECONCILE:-10s}
[ "${LBD_LAB:-}" = 1 ] || { echo "--in-lab: run me through vagrant/lab" >&2; exit 2; }
tck=$(getconf CLK_TCK)
work=$(mktemp -d /tmp/kacheck.XXXXXX)
ns=
pids=()

stop_pid() { # pid: TERM, up to 20 s, then KILL
    local pid=$1 i
    kill "$pid" 2>/dev/null || return 0
    for ((i = 0; i < 200; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -9 "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

teardown() {
    local pid
    for pid in "${pids[@]}"; do stop_pid "$pid"; done
    pids=()
    if [ -n "$ns" ]; then
        ip netns del "$ns" 2>/dev/null || true
        ns=
    fi
}
trap 'teardown; rm -rf "$work"' EXIT

# utime+stime (clock ticks) of the given pids, summed.
ticks() {
    local pid sum=0 t
    for pid in "$@"; do
        t=$(sed 's/^.*) //' "/proc/$pid/stat" | awk '{print $12 + $13}')
        sum=$((sum + t))
    done
    echo "$sum"
}
status_kb() { awk -v k="$2:" '$1 == k {print $2}' "/proc/$1/status"; }
cpu_busy() { awk '/^cpu / {print $2+$3+$4+$7+$8, $2+$3+$4+$5+$6+$7+$8}' /proc/stat; }

real_servers() {
    ip netns exec "$ns" ipvsadm -Ln 2>/dev/null | grep -c '^  -> 127\.' || true
}

# --- configurations
lbdconf=$work/lbd
mkdir -p "$lbdconf/hostgroups" "$lbdconf/services"
cat >"$lbdconf/director.yaml" <<YAML
name: bench
state_dir: $work/state
control: {socket: $work/control.sock}
listen: 127.0.0.1:19180
reconcile_interval: $reconcile
YAML
# Node i is 127.1.(i/250).(i%250+1) (awk: a subshell per node is slow under TCG).
addrs() { awk -v n="$n" 'BEGIN {for (i = 0; i < n; i++) printf "%d 127.1.%d.%d\n", i, int(i / 250), i % 250 + 1}'; }
{
    echo "ping: false"
    echo "nodes:"
    addrs | awk '{printf "  - {name: n%s, address: %s}\n", $1, $2}'
} >"$lbdconf/hostgroups/nodes.yaml"
cat >"$lbdconf/services/bench.yaml" <<YAML
virtual: {protocol: tcp, address: 192.0.2.10, port: 80}
scheduler: rr
forwarding: nat
hostgroup: nodes
port: $port
watch:
  monitor: tcp
  interval: 1s
  timeout: 900ms
YAML
"$bins/lbctl" check -c "$lbdconf" >"$work/lbctl-check.out" 2>&1 || {
    cat "$work/lbctl-check.out"
    exit 1
}

kaconf=$work/keepalived.conf
{
    echo "global_defs { router_id bench }"
    echo "virtual_server 192.0.2.10 80 {"
    echo "  delay_loop 1"
    echo "  lb_algo rr"
    echo "  lb_kind NAT"
    echo "  protocol TCP"
    addrs | awk -v port="$port" '{printf "  real_server %s %s {\n    weight 1\n    TCP_CHECK {\n      connect_timeout 1\n    }\n  }\n", $2, port}'
    echo "}"
} >"$kaconf"

echo "guest: $(nproc) vCPU, $(uname -r), $(keepalived --version 2>&1 | head -1)"
echo "load: N=$n nodes, every 1 s, window D=$d s; lbd reconcile_interval=$reconcile"

# --- one tool, $1 = lbd | keepalived | lbd@PATH (another lbd binary, e.g. a build before a
# change); $2 = its number. Appends its row to $work/rows.
run_tool() {
    local spec=$1 k=$2 kind=${1%%@*} label=$1 bin=$bins/lbd
    local f=$work/t$2 counter main checker i t0 t1 c0 c1 k0 k1 b0 b1 summary failures hwm rss
    if [[ $spec == *@* ]]; then
        bin=${spec#*@}
        label=lbd@$(basename "$bin")
    fi
    ns=kacheck$$-$k
    ip netns add "$ns"
    ip -n "$ns" link set lo up
    ip netns exec "$ns" "$bins/examples/accept_counter" "$port" >"$f.counter" 2>&1 &
    counter=$!
    pids+=("$counter")
    case $kind in
    lbd)
        rm -rf "$work/state" && mkdir -p "$work/state"
        LBD_LOG=info ip netns exec "$ns" "$bin" -c "$lbdconf" --state-dir "$work/state" \
            >"$f.log" 2>&1 </dev/null &
        ;;
    keepalived)
        ip netns exec "$ns" keepalived --check --dont-fork --log-console --no-syslog \
            -f "$kaconf" -p "$f.pid" -c "$f-check.pid" -r "$f-vrrp.pid" -b "$f-bfd.pid" \
            >"$f.log" 2>&1 </dev/null &
        ;;
    *)
        echo "unknown tool $spec"
        return 1
        ;;
    esac
    main=$!
    pids=("$main" "${pids[@]}")
    checker=$main
    # Converge: all N real servers in the kernel's table.
    for ((i = 0; ; i++)); do
        kill -0 "$main" 2>/dev/null || {
            echo "$label exited early:"
            tail -20 "$f.log"
            return 1
        }
        [ "$(real_servers)" -ge "$n" ] && break
        [ "$i" -lt 120 ] || {
            echo "$label: only $(real_servers) of $n real servers after 240 s"
            return 1
        }
        sleep 2
    done
    [ "$kind" != keepalived ] || checker=$(cat "$f-check.pid")
    echo "$label: $n real servers in the table after about $((i * 2)) s" \
        "(VmHWM $(($(status_kb "$main" VmHWM) / 1024)) MB, VmRSS $(($(status_kb "$main" VmRSS) / 1024)) MB); warming up 5 s"
    sleep 5
    local procs=("$main")
    [ "$checker" = "$main" ] || procs+=("$checker")
    b0=$(cpu_busy)
    c0=$(ticks "${procs[@]}")
    k0=$(ticks "$checker")
    t0=$(ticks "$counter")
    kill -USR1 "$counter"
    case ${LBD_KACHECK_PROFILE:-} in
    perf) perf record -q -F 499 -g -o "$f.perf" -p "$checker" -- sleep "$d" >/dev/null 2>&1 || true ;;
    strace) timeout -s INT "$d" strace -c -f -p "$checker" -o "$f.strace" >/dev/null 2>&1 || true ;;
    *) sleep "$d" ;;
    esac
    kill -USR2 "$counter"
    c1=$(ticks "${procs[@]}")
    k1=$(ticks "$checker")
    t1=$(ticks "$counter")
    b1=$(cpu_busy)
    hwm=0
    rss=0
    for i in "${procs[@]}"; do
        hwm=$((hwm + $(status_kb "$i" VmHWM)))
        rss=$((rss + $(status_kb "$i" VmRSS)))
    done
    for ((i = 0; i < 50; i++)); do
        summary=$(grep '^accepts=' "$f.counter" || true)
        [ -z "$summary" ] || break
        sleep 0.1
    done
    case $kind in
    lbd)
        failures=$(ip netns exec "$ns" curl -s http://127.0.0.1:19180/metrics |
            awk '/^lbd_checks_total.*result="fail"/ {s += $NF} END {print s + 0}')
        echo "$label: $(ip netns exec "$ns" curl -s http://127.0.0.1:19180/metrics |
            awk '/^lbd_check_intervals_missed_total/ {s += $NF} END {print s + 0}') check intervals missed since start"
        ;;
    keepalived) failures=$(grep -c 'TCP connection to .* failed\|Removing service' "$f.log" || true) ;;
    esac
    [ -n "$summary" ] || { echo "$label: no summary from the counter"; return 1; }
    echo "$label counter: $summary"
    echo "$label procs: ${procs[*]} (checker $checker), counter $counter"
    # shellcheck disable=SC2086
    set -- $b0 $b1
    local busy
    busy=$(awk -v a="$1" -v b="$2" -v c="$3" -v e="$4" 'BEGIN {printf "%.1f", 100 * (c - a) / (e - b)}')
    eval "$(echo "$summary" | tr ' ' '\n' | sed -n 's/^\(accepts\|rate\|per_second_min\|per_second_max\|max_gap_ms\|nodes_gap_over_1500ms\|nodes\)=/s_\1=/p')"
    # shellcheck disable=SC2154
    awk -v tool="$label" -v accepts="$s_accepts" -v rate="$s_rate" -v psmin="$s_per_second_min" \
        -v psmax="$s_per_second_max" -v gap="$s_max_gap_ms" -v over="$s_nodes_gap_over_1500ms" \
        -v seen="$s_nodes" -v dc=$((c1 - c0)) -v dk=$((k1 - k0)) -v dt=$((t1 - t0)) -v tck="$tck" \
        -v d="$d" -v busy="$busy" -v hwm="$hwm" -v rss="$rss" -v fail="$failures" 'BEGIN {
            printf "ROW %s %.0f %d %d %d %d %d %.1f %.1f %.1f %s %.1f %.1f %d %.0f\n", tool, rate,
                psmin, psmax, gap, over, seen, 100 * dc / tck / d, 100 * dk / tck / d,
                100 * dt / tck / d, busy, hwm / 1024, rss / 1024, fail,
                (accepts > 0 ? 1e6 * dc / tck / accepts : 0)
        }' | tee -a "$work/rows"
    if [ "${LBD_KACHECK_PROFILE:-}" = strace ]; then
        head -40 "$f.strace"
    fi
    if [ "${LBD_KACHECK_PROFILE:-}" = perf ]; then
        {
            perf report -i "$f.perf" --stdio --no-children --sort comm,dso -g none 2>/dev/null |
                grep -v '^#' | grep -v '^$' | head -12
            perf report -i "$f.perf" --stdio --no-children --percent-limit 0.7 -g none 2>/dev/null |
                grep -v '^#' | grep -v '^$' | cut -c1-150 | head -60
        } || true
    fi
    # Stop: the tool first (keepalived removes its table on the way out), then the rest.
    teardown
}

status=0
k=0
for tool in $tools; do
    k=$((k + 1))
    run_tool "$tool" "$k" || { status=1; teardown; }
done

echo
echo "N=$n nodes checked every 1 s (target $n checks/s), window $d s; guest busy = all of the guest's CPU"
printf '%-16s %8s %6s %6s %8s %6s %6s %6s %8s %8s %6s %8s %7s %5s %8s\n' tool 'checks/s' 'min/s' \
    'max/s' 'maxgap' '>1.5s' 'nodes' 'cpu%' 'checker%' 'counter%' 'busy%' 'VmHWM MB' 'RSS MB' \
    'fails' 'µs/check'
awk '{printf "%-16s %8s %6s %6s %6sms %6s %6s %6s %8s %8s %6s %8s %7s %5s %8s\n", $2, $3, $4,
    $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16}' "$work/rows" 2>/dev/null || true
awk -v n="$n" '{r[$2] = $3; c[$2] = $9; k[$2] = $10; m[$2] = $13; s[$2] = $14; u[$2] = $16}
    END {
        for (t in r) printf "%s: %.1f%% of the %d checks/s target\n", t, 100 * r[t] / n, n
        if (("lbd" in r) && ("keepalived" in r) && c["keepalived"] > 0 && k["keepalived"] > 0 &&
            m["keepalived"] > 0 && s["keepalived"] > 0 && r["keepalived"] > 0 && u["keepalived"] > 0) {
            printf "ratio lbd/keepalived: CPU %.2f (checker alone %.2f), CPU per check %.2f, peak memory %.2f, RSS %.2f, checks/s %.2f\n",
                c["lbd"] / c["keepalived"], k["lbd"] / k["keepalived"], u["lbd"] / u["keepalived"],
                m["lbd"] / m["keepalived"], s["lbd"] / s["keepalived"], r["lbd"] / r["keepalived"]
        }
    }' "$work/rows" 2>/dev/null || true
exit "$status"
