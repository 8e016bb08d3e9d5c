#!/usr/bin/env bash
# Side by side: racegate (with its JSON check on) against oha, wrk and hey,
# on the same targets, at the same concurrency and duration, interleaved and
# repeated in one run, on loopback only. Prints requests/second, p99 and peak
# memory for each, with the ratios racegate/oha and racegate/wrk, and writes
# the table to reports/bench-compare.md.
#
#   benches/compare.sh [-c CONCURRENCY] [-d SECONDS] [-r ROUNDS] [-n LONG_RUN_REQUESTS]
#
# Defaults: -c 64 -d 10 -r 3 -n 2000000. Targets: nginx serving a static JSON
# file when nginx is installed (with one worker, and again with two), the
# reference server's /livez and /api/chat, and /api/chat of a second server
# run with --synchronous full. Tools that are not installed are skipped with a note.
# On /livez racegate also runs through its fault proxy with no fault active
# (--fault latency=0ms, "racegate-proxy"): the proxy's cost, as a ratio.
# Two more /livez targets, racegate against oha only (wrk and hey are left
# out): HTTPS over HTTP/1.1 (server-livez-https, a certificate made here with
# openssl, both tools verifying nothing: -k / --insecure) and HTTP/2 with
# prior knowledge (server-livez-h2: --http2 -c 8 -p 16, as the issue asks).
set -euo pipefail

C=64
D=10
R=3
LONG=2000000
while getopts "c:d:r:n:" opt; do
  case $opt in
    c) C=$OPTARG ;;
    d) D=$OPTARG ;;
    r) R=$OPTARG ;;
    n) LONG=$OPTARG ;;
    *) echo "usage: $0 [-c CONCURRENCY] [-d SECONDS] [-r ROUNDS] [-n LONG_RUN_REQUESTS]" >&2; exit 2 ;;
  esac
done

ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=$(mktemp -d /tmp/racegate-compare.XXXXXX)
chmod 755 "$WORK"   # nginx's worker runs as an unprivileged user and must read www/
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

need_time() {
  if [ ! -x /usr/bin/time ]; then
    echo "compare.sh: /usr/bin/time is needed for peak memory: apt-get install time" >&2
    exit 2
  fi
}
need_time

echo "building racegate and racegate-server (release)…" >&2
cargo build --quiet --release -p racegate -p racegate-server --manifest-path "$ROOT/Cargo.toml"
RG="$ROOT/target/release/racegate"
SERVER="$ROOT/target/release/racegate-server"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_http() {
  for _ in $(seq 1 200); do
    # No proxy: the targets are on loopback.
    if python3 -c "import urllib.request as u; u.build_opener(u.ProxyHandler({})).open('$1', timeout=1)" 2>/dev/null; then return 0; fi
    sleep 0.05
  done
  echo "compare.sh: $1 never answered" >&2
  exit 2
}

TOOLS=(racegate)
NOTES=()
for t in oha wrk hey; do
  if command -v "$t" >/dev/null; then TOOLS+=("$t"); else
    case $t in
      oha) NOTES+=("oha not installed: cargo install oha") ;;
      *) NOTES+=("$t not installed: apt-get install $t") ;;
    esac
  fi
done

TARGETS=()
declare -A TARGET_PID
BODY='{"message":"benchmark turn"}'
# start_nginx NAME WORKERS: nginx serving a static JSON file with WORKERS
# worker processes, as target NAME (its CPU counted over all its workers).
start_nginx() {
  local name=$1 workers=$2 port dir="$WORK/nginx-$1"
  port=$(free_port)
  mkdir -p "$dir"
  cat > "$dir/nginx.conf" <<EOF
worker_processes $workers;
daemon off;
pid $dir/nginx.pid;
error_log $dir/nginx.err;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 1000000;
  server {
    listen 127.0.0.1:$port;
    location / { root $WORK/www; default_type application/json; }
  }
}
EOF
  nginx -c "$dir/nginx.conf" -p "$dir" &
  PIDS+=($!)
  wait_http "http://127.0.0.1:$port/chat.json"
  TARGET_PID[$name]=$(pgrep -P "$!" | tr '\n' ' ')   # its workers
  TARGETS+=("$name|GET|http://127.0.0.1:$port/chat.json|response")
}
if command -v nginx >/dev/null; then
  mkdir -p "$WORK/www"
  printf '{"response":"ok","conversation_id":"static","message_id":1}' > "$WORK/www/chat.json"
  # One worker: the classic setup, where nginx's one core is usually the
  # bound. Two workers: nginx can use both cores, so the CPU a tool spends
  # per request decides how much is left for the target.
  start_nginx nginx-static-json 1
  start_nginx nginx-static-json-2w 2
else
  NOTES+=("nginx not installed (apt-get install nginx-light): the static-file target is skipped")
fi

SPORT=$(free_port)
RUST_LOG=warn "$SERVER" --addr "127.0.0.1:$SPORT" --db "$WORK/bench.db" &
PIDS+=($!)
TARGET_PID[server-livez]=$!
TARGET_PID[server-chat]=$!
wait_http "http://127.0.0.1:$SPORT/healthz"
TARGETS+=("server-livez|GET|http://127.0.0.1:$SPORT/livez|status")
# The same server over HTTP/2 (h2c on the same port).
TARGET_PID[server-livez-h2]=$!
TARGETS+=("server-livez-h2|GET|http://127.0.0.1:$SPORT/livez|status|h2")
TARGETS+=("server-chat|POST|http://127.0.0.1:$SPORT/api/chat|response")
# The same server with every commit fsynced (--synchronous full): durable
# across a power cut, measured separately.
FPORT=$(free_port)
RUST_LOG=warn "$SERVER" --addr "127.0.0.1:$FPORT" --db "$WORK/bench-full.db" --synchronous full &
PIDS+=($!)
TARGET_PID[server-chat-full]=$!
wait_http "http://127.0.0.1:$FPORT/healthz"
TARGETS+=("server-chat-full|POST|http://127.0.0.1:$FPORT/api/chat|response")
# HTTPS: a second server with a self-signed certificate.
if command -v openssl >/dev/null; then
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 \
    -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 \
    -keyout "$WORK/tls.key" -out "$WORK/tls.pem" 2>/dev/null
  TPORT=$(free_port)
  RUST_LOG=warn "$SERVER" --addr "127.0.0.1:$TPORT" --db "$WORK/bench-tls.db" \
    --tls-cert "$WORK/tls.pem" --tls-key "$WORK/tls.key" &
  PIDS+=($!)
  TARGET_PID[server-livez-https]=$!
  for _ in $(seq 1 200); do
    curl -skf "https://127.0.0.1:$TPORT/healthz" >/dev/null 2>&1 && break
    sleep 0.05
  done
  TARGETS+=("server-livez-https|GET|https://127.0.0.1:$TPORT/livez|status|tls")
else
  NOTES+=("openssl not installed: the HTTPS target is skipped")
fi

printf 'wrk.method = "POST"\nwrk.body = %s\nwrk.headers["Content-Type"] = "application/json"\n' \
  "$(python3 -c 'import json,sys; print(json.dumps(sys.argv[1]))' "$BODY")" > "$WORK/post.lua"

RESULTS="$WORK/results.tsv"
: > "$RESULTS"

# CPU time (user + system, in 1/100 s) the processes PIDS... have used so far.
cpu_ticks() {
  local t=0 p
  for p in "$@"; do t=$(( t + $(awk '{print $14 + $15}' "/proc/$p/stat") )); done
  echo "$t"
}

# run TOOL TARGET_NAME METHOD URL FIELD [MODE]: one measured run, appended to
# RESULTS. MODE: h2 (HTTP/2, -c 8 -p 16) or tls (certificate not verified).
run() {
  local tool=$1 name=$2 method=$3 url=$4 field=$5 mode=${6:-} out="$WORK/out.txt" mem="$WORK/mem.txt"
  local post=() c=$C
  local before
  # shellcheck disable=SC2086 # a target may be several processes
  before=$(cpu_ticks ${TARGET_PID[$name]})
  case $tool in
    racegate|racegate-proxy)
      [ "$method" = POST ] && post=(-m POST -d "$BODY")
      [ "$tool" = racegate-proxy ] && post+=(--fault latency=0ms)
      [ "$mode" = h2 ] && { c=8; post+=(--http2 -p 16); }
      [ "$mode" = tls ] && post+=(--insecure)
      /usr/bin/time -f "%M %U %S" -o "$mem" "$RG" fire "$url" -z "${D}s" -c "$c" "${post[@]}" \
        --expect-json-field "$field" --min-pass-rate 0 --quiet --out "$WORK/rg" > /dev/null
      python3 - "$WORK/rg/report.json" > "$out" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
print(r["requests_per_second"], r["latency_ms"]["p99"], r["pass_rate"])
PY
      ;;
    oha)
      [ "$method" = POST ] && post=(-m POST -d "$BODY" -T application/json)
      [ "$mode" = h2 ] && { c=8; post+=(--http2 -p 16); }
      [ "$mode" = tls ] && post+=(--insecure)
      /usr/bin/time -f "%M %U %S" -o "$mem" oha -z "${D}s" -c "$c" "${post[@]}" --no-tui --output-format json "$url" > "$WORK/oha.json"
      python3 - "$WORK/oha.json" > "$out" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
s = r["summary"]
print(s["requestsPerSec"], r["latencyPercentiles"]["p99"] * 1000, s["successRate"])
PY
      ;;
    wrk)
      [ "$method" = POST ] && post=(-s "$WORK/post.lua")
      /usr/bin/time -f "%M %U %S" -o "$mem" wrk -t 2 -c "$C" -d "${D}s" --latency "${post[@]}" "$url" > "$WORK/wrk.txt"
      python3 - "$WORK/wrk.txt" > "$out" <<'PY'
import re, sys
t = open(sys.argv[1]).read()
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", t).group(1))
v, unit = re.search(r"\s99%\s+([\d.]+)(us|ms|s)", t).groups()
p99 = float(v) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]
print(rps, p99, "nan")
PY
      ;;
    hey)
      [ "$method" = POST ] && post=(-m POST -d "$BODY" -T application/json)
      /usr/bin/time -f "%M %U %S" -o "$mem" hey -z "${D}s" -c "$C" "${post[@]}" "$url" > "$WORK/hey.txt"
      python3 - "$WORK/hey.txt" > "$out" <<'PY'
import re, sys
t = open(sys.argv[1]).read()
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", t).group(1))
p99 = float(re.search(r"99%+ in ([\d.]+) secs", t).group(1)) * 1000
print(rps, p99, "nan")
PY
      ;;
  esac
  read -r rps p99 ok < "$out"
  read -r kib user sys < <(tail -n1 "$mem")
  # shellcheck disable=SC2086
  local target_cpu=$(( $(cpu_ticks ${TARGET_PID[$name]}) - before ))
  # Seconds of CPU per request, as µs: the tool's own, and the target's
  # (its share of one core over the run says whether the target was the bound).
  local tool_us target_pct
  tool_us=$(python3 -c "print(($user + $sys) * 1e6 / max($rps * $D, 1))")
  target_pct=$(python3 -c "print($target_cpu / $D)")
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$tool" "$rps" "$p99" "$kib" "$ok" "$tool_us" "$target_pct" "$round" >> "$RESULTS"
  printf '  %-18s %-9s %10.0f req/s  p99 %7.2f ms  peak %6d KiB  %5.1f µs CPU/req  target %3.0f%% of a core\n' \
    "$name" "$tool" "$rps" "$p99" "$kib" "$tool_us" "$target_pct" >&2
}

echo "comparing ${TOOLS[*]} at -c $C for ${D}s, $R rounds, interleaved…" >&2
for round in $(seq 1 "$R"); do
  echo "round $round/$R" >&2
  for target in "${TARGETS[@]}"; do
    IFS='|' read -r name method url field mode <<< "$target"
    tools=("${TOOLS[@]}")
    [ "$name" = server-livez ] && tools+=(racegate-proxy)
    # HTTPS and HTTP/2: racegate and oha only.
    if [ -n "$mode" ]; then
      tools=(racegate)
      for t in "${TOOLS[@]}"; do [ "$t" = oha ] && tools+=(oha); done
    fi
    # Rotate the order each round so no tool always runs first or last.
    n=${#tools[@]}
    for i in $(seq 0 $((n - 1))); do
      run "${tools[$(( (i + round) % n ))]}" "$name" "$method" "$url" "$field" "$mode"
    done
  done
done

LONGMEM="$WORK/long.tsv"
: > "$LONGMEM"
if [ "$LONG" -gt 0 ]; then
  IFS='|' read -r name method url field <<< "${TARGETS[0]}"
  for via in direct proxy; do
    extra=()
    [ "$via" = proxy ] && extra=(--fault latency=0ms)
    for n in $((LONG / 10)) "$LONG"; do
      echo "memory: racegate -n $n against $name ($via)…" >&2
      /usr/bin/time -f %M -o "$WORK/mem.txt" "$RG" fire "$url" -n "$n" -c "$C" --expect-json-field "$field" --quiet --min-pass-rate 0 "${extra[@]}" > /dev/null
      printf '%s\t%s\t%s\t%s\n' "$name" "$n" "$(tail -n1 "$WORK/mem.txt")" "$via" >> "$LONGMEM"
    done
  done
fi

mkdir -p "$ROOT/reports"
python3 - "$RESULTS" "$LONGMEM" "$C" "$D" "$R" "$LONG" "${NOTES[@]+"${NOTES[@]}"}" > "$ROOT/reports/bench-compare.md" <<'PY'
import statistics, sys, subprocess, datetime, collections
results, longmem, c, d, r, long_n = sys.argv[1:7]
notes = sys.argv[7:]
rows = collections.defaultdict(lambda: collections.defaultdict(list))
by_round = collections.defaultdict(dict)  # (target, round) -> tool -> req/s
targets, tools = [], []
for line in open(results):
    name, tool, rps, p99, mem, ok, tool_us, target_pct, rnd = line.rstrip("\n").split("\t")
    if name not in targets: targets.append(name)
    if tool not in tools: tools.append(tool)
    rows[name][tool].append((float(rps), float(p99), int(mem), float(tool_us), float(target_pct)))
    by_round[(name, int(rnd))][tool] = float(rps)
def version(cmd):
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=10).stdout.strip().splitlines()[0]
    except Exception:
        return "?"
print("# racegate vs other load tools, side by side\n")
print(f"Generated {datetime.date.today()} by `benches/compare.sh -c {c} -d {d} -r {r} -n {long_n}` on "
      f"{subprocess.run(['nproc'], capture_output=True, text=True).stdout.strip()} cores, loopback only. "
      f"Each cell is the median of {r} runs of {d} s at concurrency {c}; the tools ran interleaved, "
      "rotating their order every round, so drift on this shared machine hits them alike. "
      "racegate runs with its JSON field check on (it parses every body); the others check nothing.\n")
print("| target | tool | req/s | p99 ms | peak RSS MiB | tool CPU µs/request | target CPU, % of one core |")
print("|---|---|---:|---:|---:|---:|---:|")
for t in targets:
    for tool in tools:
        runs = rows[t].get(tool)
        if not runs: continue
        rps = statistics.median(x[0] for x in runs)
        p99 = statistics.median(x[1] for x in runs)
        mem = max(x[2] for x in runs) / 1024
        cpu = statistics.median(x[3] for x in runs)
        target = statistics.median(x[4] for x in runs)
        print(f"| {t} | {tool} | {rps:,.0f} | {p99:.2f} | {mem:.1f} | {cpu:.1f} | {target:.0f} |")
print("\nracegate's throughput over each other tool's: the median of the per-round ratios (within a round "
      "a target's tools run back to back, seconds apart), with the lowest and highest round in brackets.\n")
def ratio_cell(pairs):
    """The median of per-round ratios a/b, with the lowest and highest; "—" if no round has both."""
    ratios = sorted(a / b for a, b in pairs if a and b)
    return f"{statistics.median(ratios):.2f}x ({ratios[0]:.2f}–{ratios[-1]:.2f})" if ratios else "—"
def rounds(num, den):
    """Per round, the req/s of the (target, tool) pairs num and den."""
    return [(by_round.get((num[0], k), {}).get(num[1]), by_round.get((den[0], k), {}).get(den[1]))
            for k in range(1, int(r) + 1)]
print("server-livez-h2 is HTTP/2 with prior knowledge at -c 8 -p 16 (8 connections × 16 streams) for both "
      "tools; server-livez-https is HTTP/1.1 over TLS at the table's concurrency, neither tool verifying "
      "the self-signed certificate.\n")
print("| target | racegate / oha | racegate / wrk | racegate / hey |")
print("|---|---:|---:|---:|")
for t in targets:
    cells = [ratio_cell(rounds((t, "racegate"), (t, other))) for other in ("oha", "wrk", "hey")]
    print(f"| {t} | " + " | ".join(cells) + " |")
if "racegate-proxy" in rows.get("server-livez", {}):
    print("\nThe fault proxy's cost with no fault active: racegate through `--fault latency=0ms` over racegate "
          "direct, on `/livez`, per round (the proxy's CPU is racegate's; the target is the same).\n")
    print("| target | through the proxy / direct |\n|---|---:|")
    print(f"| server-livez | {ratio_cell(rounds(('server-livez', 'racegate-proxy'), ('server-livez', 'racegate')))} |")
def med(t, tool):
    runs = rows.get(t, {}).get(tool)
    return statistics.median(x[0] for x in runs) if runs else None
def round_ratio(tool, num, den):
    """Target num over target den for one tool."""
    return ratio_cell(rounds((num, tool), (den, tool)))
if "server-chat" in rows and "server-livez" in rows:
    print("\nThe reference server's chat path against its own `/livez`, same run: each tool's median "
          "req/s, and the median of its per-round ratios with the lowest and highest round (within a "
          "round, a tool's runs on two targets are tens of seconds apart).\n")
    print("| tool | /api/chat req/s | /livez req/s | chat / livez | chat, --synchronous full | full / normal |")
    print("|---|---:|---:|---:|---:|---:|")
    for tool in tools:
        chat, livez, full = med("server-chat", tool), med("server-livez", tool), med("server-chat-full", tool)
        if chat and livez:
            f = f"{full:,.0f} | {round_ratio(tool, 'server-chat-full', 'server-chat')}" if full else "— | —"
            print(f"| {tool} | {chat:,.0f} | {livez:,.0f} | {round_ratio(tool, 'server-chat', 'server-livez')} | {f} |")
mem = [l.rstrip("\n").split("\t") for l in open(longmem)]
if mem:
    print("\nracegate's peak resident memory by run length (same target, -c " + c + "):\n")
    print("| requests | via | peak RSS MiB |\n|---:|---|---:|")
    for name, n, kb, via in mem:
        print(f"| {int(n):,} | {via} | {int(kb) / 1024:.1f} |")
print("\nVersions: " + "; ".join(v for v in [version(["oha", "--version"]), version(["nginx", "-v"]), version(["wrk", "--version"])] if v and v != "?"))
if notes:
    print("\nSkipped: " + "; ".join(notes))
PY
cat "$ROOT/reports/bench-compare.md"
