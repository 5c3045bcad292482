#!/usr/bin/env bash
# The hot-path JMH benchmarks of issue 4, each beside its JDK or trivial baseline, with -prof gc
# (allocation per op): reserve + settle, SSE framing + metering, admission, journal append.
#   bench/scripts/jmh.sh                      all of them
#   bench/scripts/jmh.sh ReserveSettle -f 2   any JMH arguments (a benchmark name regex first)
# TOLLGATE_MVN_ARGS=-o builds offline.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# shellcheck source=bin/jdk25.sh
source "$root/bin/jdk25.sh"
tollgate_find_jdk25
# shellcheck source=bench/scripts/common.sh
source "$root/bench/scripts/common.sh"

jar="$root/bench/target/tollgate-bench.jar"
echo "building $jar ..." >&2
tollgate_build_bench jmh.sh

tollgate_machine_line
echo "\$ bench/scripts/jmh.sh $*"
selection=("ReserveSettleBenchmark|SseMeteringBenchmark|AdmissionBenchmark|JournalAppendBenchmark")
if [ $# -gt 0 ] && [ "${1#-}" = "$1" ]; then
  selection=("$1")
  shift
fi
# -foe: JMH exits 0 when a benchmark dies unless told otherwise. The forked JVMs inherit this JVM's flags.
exec "$JAVA_HOME/bin/java" "${TOLLGATE_JVM_FLAGS[@]}" -Dorg.slf4j.simpleLogger.defaultLogLevel=warn -jar "$jar" \
  "${selection[@]}" -foe true -prof gc -rf text -rff "$root/bench/target/jmh-results.txt" "$@"
