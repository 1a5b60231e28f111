#!/usr/bin/env bash
# Benchmark: `lbctl check` on generated configurations.
#   A: 1,000 services, each with its own hostgroup of 50 nodes (50,000 distinct IPv6 nodes,
#      2,001 files)
#   B: one hostgroup file of 50,000 (IPv6) nodes and one service
# Usage: benches/config_check.sh [RUNS]   (needs hyperfine for the statistics; else a timing loop)
# Results go in BENCHMARKS.md under "Configuration".
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-10}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-target}
cargo build --release --locked --bin lbctl >/dev/null
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# A private copy: a shared target directory may be rebuilt by someone else meanwhile.
cp "$CARGO_TARGET_DIR/release/lbctl" "$work/lbctl"

director() { # $1 dir, $2 vips (flow list)
    mkdir -p "$1/hostgroups" "$1/services"
    cat > "$1/director.yaml" <<YAML
name: dir1
vrrp:
  - name: vi_51
    interface: eth0
    vrid: 51
    priority: 150
    vips: [$2]
YAML
}

# A: 1,000 services x 50 nodes.
a="$work/a"
director "$a" "2001:db8::10/64"
awk -v dir="$a" 'BEGIN {
    for (s = 0; s < 1000; s++) {
        h = sprintf("%s/hostgroups/g%04d.yaml", dir, s)
        printf "nodes:\n" > h
        for (n = 0; n < 50; n++)
            printf "  - name: g%04d-rs%d\n    address: 2001:db8:1::%x:%x\n    weight: %d\n", s, n, s + 1, n + 10, 1 + n % 3 > h
        close(h)
        f = sprintf("%s/services/s%04d.yaml", dir, s)
        printf "virtual:\n  protocol: tcp\n  address: \"2001:db8::10\"\n  port: %d\n", 10000 + s > f
        printf "scheduler: wlc\nforwarding: nat\nport: 80\nhostgroup: g%04d\n", s > f
        printf "watch:\n  monitor:\n    type: http\n    path: /health\n    expect_status: [200, \"300-399\"]\n" > f
        printf "  interval: 10s\n  randskew: 2s\n  timeout: 3s\n  rise: 2\n  fall: 3\n  alert: []\n" > f
        close(f)
    }
}'

# B: one 50,000-node hostgroup.
b="$work/b"
director "$b" "2001:db8::10/64"
awk -v dir="$b" 'BEGIN {
    h = dir "/hostgroups/big.yaml"
    printf "nodes:\n" > h
    for (n = 0; n < 50000; n++)
        printf "  - name: rs%d\n    address: 2001:db8:1::%x:%x\n", n, int(n / 65536) + 1, n % 65536 > h
    close(h)
    f = dir "/services/big.yaml"
    printf "virtual: {protocol: tcp, address: \"2001:db8::10\", port: 80}\nhostgroup: big\nwatch:\n  monitor: tcp\n" > f
    close(f)
}'

for d in "$a" "$b"; do "$work/lbctl" check -c "$d"; done
echo "input: A $(du -sh "$a" | cut -f1) in $(find "$a" -type f | wc -l) files; B $(du -sh "$b" | cut -f1)"
if command -v hyperfine >/dev/null; then
    hyperfine --warmup 1 --runs "$runs" -N \
        -n "A: 1000 services x 50 nodes" "$work/lbctl check -c $a" \
        -n "B: one 50000-node hostgroup" "$work/lbctl check -c $b"
else
    for d in "$a" "$b"; do
        start=$(date +%s%N)
        for _ in $(seq "$runs"); do "$work/lbctl" check -c "$d" >/dev/null; done
        echo "$d: $(( ($(date +%s%N) - start) / runs / 1000000 )) ms per run"
    done
fi
