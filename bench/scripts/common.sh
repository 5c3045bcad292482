# Sourced by the bench scripts (after bin/jdk25.sh): what each of them needs the same way.
# shellcheck shell=bash

# Builds the proxy jar and bench/target/tollgate-bench.jar (TOLLGATE_MVN_ARGS=-o builds offline);
# on failure prints Maven's log and "$1: the build failed", and exits 1.
tollgate_build_bench() {
  local name="$1" log
  log="$(mktemp)"
  # shellcheck disable=SC2086 # TOLLGATE_MVN_ARGS is a list of Maven options
  if ! (cd "$root" && mvn -B -q -ntp ${TOLLGATE_MVN_ARGS:-} -pl bench -am package -Dmaven.test.skip=true) >"$log" 2>&1; then
    cat "$log" >&2
    rm -f "$log"
    echo "$name: the build failed (log above)" >&2
    exit 1
  fi
  rm -f "$log"
}

# The line that heads every result: when, on how many and which cores, which JDK, how busy.
tollgate_machine_line() {
  echo "$(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)), $("$JAVA_HOME/bin/java" -version 2>&1 | head -1), load average $(cut -d' ' -f1-3 /proc/loadavg)"
}
