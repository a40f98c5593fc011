# Finds an installed JDK 25 in the places where pom.xml's toolchain (maven-toolchains-plugin's
# select-jdk-toolchain) discovers JDKs, so that ./mvnw can say what to install before Maven would fail with a
# toolchain error, and ./dkv runs the CLI on the same JDK the build compiled and tested with.
# POSIX sh, sourced by mvnw (which runs with set -euf) and by dkv (bash).

# $1: a directory. True when it is a JDK 25 (its release file, or `java -version` where a build has none).
jdk25_is() {
  [ -n "$1" ] && [ -x "$1/bin/java" ] || return 1
  if [ -f "$1/release" ]; then
    grep -Eq '^JAVA_VERSION="25(\.[0-9.]+)?"' "$1/release"
  else
    case $("$1/bin/java" -version 2>&1) in *' version "25"'* | *' version "25.'*) return 0 ;; esac
    return 1
  fi
}

# Candidate JDK homes, one a line, most specific first: JAVA_HOME, JAVA25_HOME and the other JAVA*_HOME
# variables, the `java` on the PATH, then the version managers' and the system's install folders.
jdk25_candidates() (
  set +f
  printf '%s\n' "${JAVA_HOME:-}" "${JAVA25_HOME:-}"
  env | sed -n 's/^JAVA[0-9A-Za-z_]*_HOME=//p'
  java_on_path=$(command -v java 2>/dev/null || :)
  [ -z "$java_on_path" ] || dirname "$(dirname "$(readlink -f "$java_on_path")")"
  for jdk in "$HOME"/.jdks/* "$HOME"/.m2/jdks/* "$HOME"/.sdkman/candidates/java/* "$HOME"/.gradle/jdks/* \
      "$HOME"/.jenv/versions/* "$HOME"/.jbang/cache/jdks/* "$HOME"/.asdf/installs/java/* "$HOME"/.jabba/jdk/* \
      "$HOME"/.local/share/mise/installs/java/* "$HOME"/Library/Java/JavaVirtualMachines/*/Contents/Home \
      /Library/Java/JavaVirtualMachines/*/Contents/Home /usr/jdk/* /usr/java/* /usr/local/java/* /opt/java/* \
      /opt/hostedtoolcache/* /usr/lib/jvm/* /usr/lib64/jvm/*; do
    printf '%s\n' "$jdk"
  done
)

# Prints the home of the first JDK 25 among the candidates; fails when there is none. (No pipeline into the
# loop: returning early would break the writer's pipe, which the pipefail of ./dkv counts as a failure.)
find_jdk25() {
  _jdk25_candidates=$(jdk25_candidates)
  while IFS= read -r _jdk25; do
    if jdk25_is "$_jdk25"; then printf '%s\n' "$_jdk25"; return 0; fi
  done <<CANDIDATES
$_jdk25_candidates
CANDIDATES
  return 1
}

jdk25_missing() {
  echo "no JDK 25 found: install one (e.g. Temurin 25 from https://adoptium.net, Debian/Ubuntu package" \
    "temurin-25-jdk from its apt repository) or set JAVA25_HOME to a JDK 25's directory"
}
