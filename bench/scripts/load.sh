#!/usr/bin/env bash
# The load harness in one command: the same mock provider and the same open-loop offered load,
# straight to the mock, through nginx (plain reverse proxy) and through Tollgate (all its metering);
# JSON and SSE streams; the maximum rate each sustains with p99 under 5 ms; correctness of every
# Tollgate run checked against its journal; 10,000 concurrent slow streams through Tollgate.
#
#   bench/scripts/load.sh                 # the full run (about 12 minutes on 2 cores)
#   bench/scripts/load.sh --quick         # about 2 minutes, coarser
#   bench/scripts/load.sh --jfr           # also profile Tollgate during the streaming run
#   bench/scripts/load.sh --help          # every option (rates, seconds, modes, streams...)
#   bench/scripts/load.sh --keep ...      # keep the journals (by default only reports, logs and the JFR file stay)
#
# It builds what it needs, installs nginx from Debian if it is missing, raises the open-file limit,
# starts and stops every process itself, and exits 1 if a correctness check failed.
# The report is printed and kept in bench/target/load/<time>/report.md.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# shellcheck source=bin/jdk25.sh
source "$root/bin/jdk25.sh"
tollgate_find_jdk25
# shellcheck source=bench/scripts/common.sh
source "$root/bench/scripts/common.sh"

keep=false
args=()
for arg in "$@"; do
  case "$arg" in
    --keep) keep=true ;;
    *) args+=("$arg") ;;
  esac
done

nginx_bin="$(command -v nginx || true)"
[ -n "$nginx_bin" ] || [ ! -x /usr/sbin/nginx ] || nginx_bin=/usr/sbin/nginx
if [ -z "$nginx_bin" ]; then
  echo "load: installing nginx from Debian ..." >&2
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx >/dev/null
  nginx_bin=/usr/sbin/nginx
fi

echo "load: building the proxy and the harness ..." >&2
tollgate_build_bench load

# 10,000 streams through a proxy are 20,000 sockets in the proxy and 10,000 in each of the client
# and the mock: far above the usual soft limit of 1024 (or 20,000). Root may raise the hard limit.
ulimit -Hn 1048576 2>/dev/null || true
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt 20200 ]; then
  echo "load: open-file limit $(ulimit -n) (hard $(ulimit -Hn)): 10,000 streams need about 20,100 in Tollgate;" \
    "the harness holds as many as fit and says so in its report" >&2
fi

work="$root/bench/target/load/$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$work"
cleanup() {
  if [ "$keep" != true ]; then
    find "$work" -maxdepth 2 -type d -name journal -exec rm -rf {} + 2>/dev/null || true
  fi
}
trap cleanup EXIT

status=0
"$JAVA_HOME/bin/java" "${TOLLGATE_JVM_FLAGS[@]}" -Xms512m -Xmx2g \
  -cp "$root/bench/target/classes:$root/bench/target/tollgate-bench.jar:$root/proxy/target/tollgate.jar" dev.tollgate.bench.load.LoadCli harness \
  --tollgate-jar "$root/proxy/target/tollgate.jar" --work "$work" --nginx "$nginx_bin" \
  --jvm-flags "${TOLLGATE_JVM_FLAGS[*]}" --command-line "bench/scripts/load.sh${args[*]:+ ${args[*]}}" \
  ${args[@]+"${args[@]}"} || status=$?
exit "$status"
