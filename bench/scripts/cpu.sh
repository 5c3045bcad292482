#!/usr/bin/env bash
# CPU per request of one Tollgate at one fixed open-loop rate, per thread: the quick A/B measure used
# while profiling (bench/README.md, "What profiling changed"). One mock provider, one Tollgate with
# a fresh journal, a warm-up run at half the rate, then the measured run; the Tollgate JVM's CPU
# (user + system, from /proc) over the measured run, divided by the requests sent.
#
#   bench/scripts/cpu.sh [--jar FILE] [--jfr] [--strace] [--journal-parent DIR] RATE SECONDS [json|stream]
#
#   --jar FILE            the Tollgate jar to measure (default: proxy/target/tollgate.jar, built first);
#                         run twice with two jars, alternating, to compare two builds
#   --jfr                 also record JFR CPU-time samples of the measured run, summarize them and keep
#                         the recording in bench/target/cpu-<time>.jfr
#   --strace              also count Tollgate's system calls for 5 s of the measured run (strace -c -f)
#   --journal-parent DIR  put the journal there (e.g. /dev/shm, to take the disk out of the picture)
#   TOLLGATE_JAVA_OPTS    extra JVM options for Tollgate (e.g. "-Xlog:gc:file=gc.log")
#   TOLLGATE_DURABILITY   page_cache, periodic (default) or per_debit
#
# The figures move by 10-15 % between runs on a shared 2-core VM: compare builds by alternating them.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# shellcheck source=bin/jdk25.sh
source "$root/bin/jdk25.sh"
tollgate_find_jdk25
# shellcheck source=bench/scripts/common.sh
source "$root/bench/scripts/common.sh"

jar="" jfr=false strace_run=false journal_parent=""
while [ $# -gt 0 ]; do
  case "$1" in
    --jar) jar="$2"; shift 2 ;;
    --jfr) jfr=true; shift ;;
    --strace) strace_run=true; shift ;;
    --journal-parent) journal_parent="$2"; shift 2 ;;
    -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
    *) break ;;
  esac
done
[ $# -ge 2 ] || { sed -n '2,17p' "$0" >&2; exit 2; }
rate="$1" seconds="$2" mode="${3:-json}"
stream_args=()
[ "$mode" = stream ] && stream_args=(--stream)

if [ -z "$jar" ]; then
  tollgate_build_bench cpu.sh
  jar="$root/proxy/target/tollgate.jar"
fi
java="$JAVA_HOME/bin/java"
classpath="$root/bench/target/classes:$root/bench/target/tollgate-bench.jar:$root/proxy/target/tollgate.jar"
work="$(mktemp -d)"
journal="${journal_parent:-$work}/journal-$$"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work" "$journal"
}
trap cleanup EXIT

wait_for() { # $1 = log file, $2 = pattern; prints the first match
  for _ in $(seq 1 300); do
    if grep -q "$2" "$1" 2>/dev/null; then grep -o "$2" "$1" | head -1; return 0; fi
    sleep 0.1
  done
  cat "$1" >&2
  return 1
}

provider_key="mock-$$-$RANDOM"
"$java" "${TOLLGATE_JVM_FLAGS[@]}" -cp "$classpath" dev.tollgate.bench.load.LoadCli mock --key "$provider_key" >"$work/mock.log" 2>&1 &
pids+=($!)
mock_url="$(wait_for "$work/mock.log" 'http://127.0.0.1:[0-9]*')"

key="tg-cpu-$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')"
key_sha="$(printf %s "$key" | sha256sum | cut -d' ' -f1)"
cat >"$work/tollgate.yaml" <<YAML
listeners:
  proxy: { host: 127.0.0.1, port: 0 }
catalog: builtin
providers:
  - { name: openai, protocol: openai, baseUrl: $mock_url/v1, apiKeyEnv: TOLLGATE_CPU_PROVIDER_KEY }
  - { name: anthropic, protocol: anthropic, baseUrl: $mock_url/v1, apiKeyEnv: TOLLGATE_CPU_PROVIDER_KEY }
limits:
  maxIdleUpstreamConnections: 256
journal:
  directory: $journal
  durability: ${TOLLGATE_DURABILITY:-periodic}
  syncIntervalMs: 100
accounts:
  - id: load
    openingCreditMicros: 1000000000000
    keys:
      - { sha256: $key_sha, label: cpu }
YAML
# shellcheck disable=SC2086
TOLLGATE_CPU_PROVIDER_KEY="$provider_key" "$java" "${TOLLGATE_JVM_FLAGS[@]}" ${TOLLGATE_JAVA_OPTS:-} -jar "$jar" serve --config "$work/tollgate.yaml" >"$work/tollgate.log" 2>&1 &
tollgate_pid=$!
pids+=("$tollgate_pid")
url="$(wait_for "$work/tollgate.log" 'http://127.0.0.1:[0-9]*')"

run() { # $1 = rate, $2 = seconds, $3 = warm-up seconds
  "$java" "${TOLLGATE_JVM_FLAGS[@]}" -cp "$classpath" dev.tollgate.bench.load.LoadCli run --url "$url" --key "$key" \
    --rate "$1" --seconds "$2" --warmup-seconds "$3" ${stream_args[@]+"${stream_args[@]}"}
}
cpu_ticks() { awk '{print $14 + $15}' "/proc/$tollgate_pid/stat"; }
thread_ticks() {
  for task in /proc/"$tollgate_pid"/task/*; do
    echo "$(tr ' ' _ <"$task/comm") $(awk '{print $14 + $15}' "$task/stat")"
  done | awk '{ticks[$1] += $2} END {for (name in ticks) print name, ticks[name]}' | sort
}

run $((rate / 2)) 8 2 >"$work/warm-up.log" 2>&1 || { cat "$work/warm-up.log" >&2; exit 1; }
if [ "$jfr" = true ]; then
  "$JAVA_HOME/bin/jcmd" "$tollgate_pid" JFR.start name=cpu settings=profile filename="$work/tollgate.jfr" \
    jdk.CPUTimeSample#enabled=true jdk.CPUTimeSample#throttle=2ms >/dev/null
fi
if [ "$strace_run" = true ]; then
  command -v strace >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq strace >/dev/null; }
  (sleep 3; timeout -s INT 5 strace -c -f -p "$tollgate_pid" -o "$work/strace.txt" 2>/dev/null || true) &
fi
thread_ticks >"$work/threads-before"
before="$(cpu_ticks)"
run "$rate" "$seconds" 1 | tee "$work/run.log"
after="$(cpu_ticks)"
thread_ticks >"$work/threads-after"
if [ "$strace_run" = true ]; then
  for _ in $(seq 1 20); do [ -s "$work/strace.txt" ] && break; sleep 0.5; done
fi

hz="$(getconf CLK_TCK)"
requests=$((rate * seconds))
echo
echo "Tollgate ($jar) at $rate/s $mode for $seconds s: $(( (after - before) * 1000000 / hz / requests )) us of CPU per request"
join "$work/threads-before" "$work/threads-after" | awk -v n="$requests" -v hz="$hz" \
  '$3 > $2 {printf "  %-24s %8.1f us per request\n", $1, ($3 - $2) * 1000000 / hz / n}' | sort -k2 -nr
if [ "$jfr" = true ]; then
  "$JAVA_HOME/bin/jcmd" "$tollgate_pid" JFR.stop name=cpu >/dev/null
  mkdir -p "$root/bench/target"
  recording="$root/bench/target/cpu-$(date -u +%Y%m%dT%H%M%SZ).jfr"
  cp "$work/tollgate.jfr" "$recording"
  echo
  "$java" -cp "$classpath" dev.tollgate.bench.load.LoadCli jfr-summary "$recording"
  echo "(the recording is kept: $recording)"
fi
if [ "$strace_run" = true ]; then
  echo
  echo "system calls over 5 s (about $((rate * 5)) requests):"
  head -15 "$work/strace.txt"
fi
