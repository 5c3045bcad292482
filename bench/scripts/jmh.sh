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

jar="$root/bench/target/tollgate-bench.jar"
build_log="$(mktemp)"
echo "building $jar ..." >&2
# shellcheck disable=SC2086 # TOLLGATE_MVN_ARGS is a list of Maven options
if ! (cd "$root" && mvn -B -q -ntp ${TOLLGATE_MVN_ARGS:-} -pl bench -am package -Dmaven.test.skip=true) >"$build_log" 2>&1; then
  cat "$build_log" >&2
  echo "jmh.sh: the build failed (log above)" >&2
  exit 1
fi
rm -f "$build_log"

echo "$(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)), $("$JAVA_HOME/bin/java" -version 2>&1 | head -1), load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "\$ bench/scripts/jmh.sh $*"
selection=("ReserveSettleBenchmark|SseMeteringBenchmark|AdmissionBenchmark|JournalAppendBenchmark")
if [ $# -gt 0 ] && [ "${1#-}" = "$1" ]; then
  selection=("$1")
  shift
fi
# -foe: JMH exits 0 when a benchmark dies unless told otherwise. The forked JVMs inherit this JVM's flags.
exec "$JAVA_HOME/bin/java" "${TOLLGATE_JVM_FLAGS[@]}" -Dorg.slf4j.simpleLogger.defaultLogLevel=warn -jar "$jar" \
  "${selection[@]}" -foe true -prof gc -rf text -rff "$root/bench/target/jmh-results.txt" "$@"
