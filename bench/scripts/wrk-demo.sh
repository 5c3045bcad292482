#!/usr/bin/env bash
# Requests/s of one small chat POST, in one run on this machine: straight to the simulated provider,
# then through Tollgate's demo (auth, admission, reservation, metering, settlement) to the same provider.
# Everything shares the machine's cores, so only the ratio between the two lines means much.
#   bench/scripts/wrk-demo.sh [seconds] [connections]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
seconds="${1:-15}"
connections="${2:-16}"
port="${TOLLGATE_BENCH_PORT:-18480}"
provider_key="sim-bench-$$"

if ! command -v wrk >/dev/null; then
  echo "installing wrk from Debian ..." >&2
  apt-get update -qq && apt-get install -y -qq wrk >/dev/null
fi

source "$root/bin/jdk25.sh"
tollgate_find_jdk25

work="$(mktemp -d)"
log="$work/demo.log"
"$root/bin/tollgate" demo --port "$port" --quiet --balance-micros 1000000000000 --event-delay-ms 0 --events 24 --provider-key "$provider_key" >"$log" 2>&1 &
demo_pid=$!
trap 'kill $demo_pid 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 1 600); do
  grep -q '^Tollgate demo on' "$log" && break
  kill -0 $demo_pid 2>/dev/null || { cat "$log" >&2; exit 1; }
  sleep 0.1
done
key="$(grep -o 'TOLLGATE_KEY=tg-[A-Za-z0-9_-]*' "$log" | cut -d= -f2)"
upstream="$(grep -o 'upstream on http://[0-9.:]*' "$log" | sed 's/upstream on //')"

lua() { # $1 = bearer key, $2 = stream true|false
  cat <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $1"
wrk.body = '{"model":"gpt-4o-mini","stream":$2,"max_tokens":64,"messages":[{"role":"user","content":"Say something short."}]}'
LUA
}

run() { # $1 = label, $2 = url, $3 = lua file
  local out rps p50 p99
  out="$(wrk -t2 -c"$connections" -d"${seconds}s" --latency -s "$3" "$2")"
  rps="$(awk '/Requests\/sec/ {print $2}' <<<"$out")"
  p50="$(awk '$1=="50%" {print $2}' <<<"$out")"
  p99="$(awk '$1=="99%" {print $2}' <<<"$out")"
  errors="$(grep -E 'Non-2xx|Socket errors' <<<"$out" | tr '\n' ' ' || true)"
  printf '%-34s %12s %10s %10s %s\n' "$1" "$rps" "$p50" "$p99" "$errors"
  echo "$rps"  >"$work/$(tr ' /' '__' <<<"$1").rps"
}

lua "$provider_key" false >"$work/direct.lua"
lua "$key" false >"$work/tollgate.lua"
lua "$provider_key" true >"$work/direct-stream.lua"
lua "$key" true >"$work/tollgate-stream.lua"

echo "warming up (JIT) ..." >&2
wrk -t2 -c"$connections" -d5s -s "$work/tollgate.lua" "http://127.0.0.1:$port/v1/chat/completions" >/dev/null
wrk -t2 -c"$connections" -d3s -s "$work/tollgate-stream.lua" "http://127.0.0.1:$port/v1/chat/completions" >/dev/null

echo "$(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, $("$JAVA_HOME/bin/java" -version 2>&1 | head -1 || true), wrk -t2 -c$connections -d${seconds}s"
printf '%-34s %12s %10s %10s\n' "path" "requests/s" "p50" "p99"
run "direct, JSON" "$upstream/v1/chat/completions" "$work/direct.lua"
run "through Tollgate, JSON" "http://127.0.0.1:$port/v1/chat/completions" "$work/tollgate.lua"
run "direct, SSE (24 events)" "$upstream/v1/chat/completions" "$work/direct-stream.lua"
run "through Tollgate, SSE (24 events)" "http://127.0.0.1:$port/v1/chat/completions" "$work/tollgate-stream.lua"
awk -v a="$(cat "$work/direct,_JSON.rps")" -v b="$(cat "$work/through_Tollgate,_JSON.rps")" \
    -v c="$(cat "$work/direct,_SSE_(24_events).rps")" -v d="$(cat "$work/through_Tollgate,_SSE_(24_events).rps")" \
    'BEGIN { printf "ratio Tollgate/direct: JSON %.2f, SSE %.2f\n", b / a, d / c }'
curl -s "http://127.0.0.1:$port/tollgate/v1/balance" -H "Authorization: Bearer $key"; echo
