#!/usr/bin/env bash
# Benchmarks of the ledger journal, one command each (results and how to read them: bench/README.md):
#   bench/scripts/journal.sh latency [appends] [per-debit-appends]   append latency per durability, 1 and 2 threads
#   bench/scripts/journal.sh replay [records]                        replay rate and start-up time on a generated journal
#   bench/scripts/journal.sh jmh [JMH options]                       the codec's per-record cost (JMH, with -prof gc)
# The machine's Maven and a JDK 25 are found as bin/tollgate finds them; TOLLGATE_MVN_ARGS=-o builds offline.
# replay writes about 190 MB per million records under $TOLLGATE_BENCH_DIR (default: a temporary directory,
# deleted afterwards unless TOLLGATE_BENCH_KEEP=1).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# shellcheck source=bin/jdk25.sh
source "$root/bin/jdk25.sh"
tollgate_find_jdk25
# shellcheck source=bench/scripts/common.sh
source "$root/bench/scripts/common.sh"

what="${1:-}"
[ -n "$what" ] || { sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
shift

jar="$root/bench/target/tollgate-bench.jar"
echo "building $jar ..." >&2
tollgate_build_bench journal.sh

java_run=("$JAVA_HOME/bin/java" "${TOLLGATE_JVM_FLAGS[@]}" -Dorg.slf4j.simpleLogger.defaultLogLevel=warn -Xmx4g -cp "$jar")
tollgate_machine_line
echo "\$ bench/scripts/journal.sh $what $*"

case "$what" in
  latency)
    "${java_run[@]}" dev.tollgate.bench.JournalAppendLatency --records "${1:-1000000}" --per-debit-records "${2:-20000}" --threads 1,2
    ;;
  replay)
    records="${1:-10000000}"
    base="${TOLLGATE_BENCH_DIR:-$(mktemp -d)}"
    journal="$base/tollgate-replay-$records"
    if [ "${TOLLGATE_BENCH_KEEP:-0}" != 1 ]; then
      trap 'rm -rf "$journal"; [ -n "${TOLLGATE_BENCH_DIR:-}" ] || rmdir "$base" 2>/dev/null || true' EXIT
    fi
    rm -rf "$journal"
    replay=("${java_run[@]}" dev.tollgate.bench.JournalReplay)
    "${replay[@]}" generate --dir "$journal" --records "$records"
    # Start-up first, each in a fresh JVM as a restarting node would be. The first recovery also
    # releases the reservations the generator left in flight (and journals that); the second finds none.
    "${replay[@]}" recover --dir "$journal"
    "${replay[@]}" recover --dir "$journal"
    "${replay[@]}" snapshot --dir "$journal" --at 0.99
    "${replay[@]}" recover --dir "$journal" --snapshot
    "${replay[@]}" recover --dir "$journal" --snapshot
    "${replay[@]}" replay --dir "$journal" --repeat 3
    ;;
  jmh)
    # The forked benchmark JVMs inherit this JVM's flags (JMH copies them), Agrona and Chronicle ones included.
    "${java_run[@]}" org.openjdk.jmh.Main JournalCodecBenchmark -foe true -prof gc "$@"
    ;;
  *)
    echo "journal.sh: unknown benchmark '$what' (latency, replay or jmh)" >&2
    exit 2
    ;;
esac
