# Sourced by bin/tollgate, bin/test and .ci/run: finds a JDK 25 and exports JAVA_HOME and PATH.
# A fresh machine's PATH gives JDK 17, so the scripts never trust it.
tollgate_find_jdk25() {
  local candidate
  for candidate in "${TOLLGATE_JAVA_HOME:-}" "${JAVA_HOME:-}" /usr/lib/jvm/temurin-25-jdk-amd64 /usr/lib/jvm/temurin-25* /usr/lib/jvm/*-25-* /usr/lib/jvm/jdk-25*; do
    [ -n "$candidate" ] && [ -x "$candidate/bin/java" ] || continue
    if "$candidate/bin/java" -XshowSettings:properties -version 2>&1 | grep -q 'java.specification.version = 25'; then
      export JAVA_HOME="$candidate"
      export PATH="$JAVA_HOME/bin:$PATH"
      return 0
    fi
  done
  echo "tollgate: no JDK 25 found (looked at \$TOLLGATE_JAVA_HOME, \$JAVA_HOME and /usr/lib/jvm); install Temurin 25 or set TOLLGATE_JAVA_HOME" >&2
  return 1
}

# The flags Agrona and Chronicle need on JDK 25; keep in step with tollgate.jvm.flags in pom.xml.
TOLLGATE_JVM_FLAGS=(
  --add-exports=java.base/jdk.internal.misc=ALL-UNNAMED
  --add-exports=java.base/sun.nio.ch=ALL-UNNAMED
  --add-opens=java.base/java.lang.reflect=ALL-UNNAMED
  --add-exports=java.base/jdk.internal.ref=ALL-UNNAMED
  --enable-native-access=ALL-UNNAMED
  --sun-misc-unsafe-memory-access=allow
  -Dchronicle.analytics.disable=true
  -Dchronicle.announcer.disable=true
)
export MAVEN_OPTS="${MAVEN_OPTS:-} --sun-misc-unsafe-memory-access=allow"
