#!/bin/sh
# bench/receive.sh [SESSIONS] [MESSAGES] [SIZE] - receive throughput of domsecd
# (plain SMTP, fsync durability) measured with Postfix's smtp-source.
# Loopback only; bounded; leaves no process behind.
set -eu
cd "$(dirname "$0")/.."
S=${1:-20}; M=${2:-4000}; L=${3:-4096}
command -v smtp-source >/dev/null || {
    echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q postfix >/dev/null
}
scripts/build build >/dev/null
dir=$(mktemp -d /var/tmp/domsec-bench.XXXXXX); chmod 755 "$dir"
port=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
cat > "$dir/domsec.conf" <<CONF
[service]
user = nobody
[transport]
accepted_domains = contoso.test
queue_directory = $dir/queue
[receive Bench]
bindings = 127.0.0.1:$port
max_inbound_connection_per_source = 5000
auth_mechanism = none
CONF
build/domsecd -c "$dir/domsec.conf" 2>"$dir/log" & pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$dir"' EXIT
for i in $(seq 50); do grep -q "server started" "$dir/log" && break; sleep 0.1; done
cpu0=$(awk '{print $14+$15}' /proc/$pid/stat)
t0=$(date +%s.%N)
timeout 300 smtp-source -c -s "$S" -m "$M" -l "$L" -f a@example.org -t user@contoso.test \
    127.0.0.1:"$port" >/dev/null
t1=$(date +%s.%N)
cpu1=$(awk '{print $14+$15}' /proc/$pid/stat)
n=$(ls "$dir/queue/messages" | wc -l)
rss=$(awk '/VmHWM/{print $2}' /proc/$pid/status)
awk -v n="$n" -v m="$M" -v t0="$t0" -v t1="$t1" -v c0="$cpu0" -v c1="$cpu1" -v rss="$rss" \
    -v s="$S" -v l="$L" -v hz="$(getconf CLK_TCK)" 'BEGIN {
    printf "sessions=%d messages=%d size=%dB queued=%d time=%.2fs rate=%.0f msg/s domsecd_cpu=%.2fs peak_rss=%dKiB\n",
        s, m, l, n, t1 - t0, n / (t1 - t0), (c1 - c0) / hz, rss }'
[ "$n" -eq "$M" ] || { echo "bench: only $n of $M messages queued" >&2; exit 1; }
