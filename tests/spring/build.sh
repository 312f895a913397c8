#!/usr/bin/env bash
# Builds tests/spring/app (poolprobe, a minimal Spring Boot 3 application) with Maven and prints
# the path of its executable jar on stdout; progress and errors on stderr.
#
# The jar printed is the fat jar extracted by Spring Boot's jarmode tools (app jar + lib/), next
# to a class data sharing archive poolprobe.jsa made by one training run that stops after the
# context refresh: Spring Boot's documented way to start faster, about 40% less CPU per start
# here. The pods run it with -XX:SharedArchiveFile; where the JDK no longer fits the archive the
# JVM ignores it. What Spring Boot reads is the same as from the fat jar.
#
#   bash tests/spring/build.sh [--force]
#
# Dependencies come from Maven Central into a local repository kept in the cache
# (POOLGUARD_SPRING_CACHE, default ~/.cache/poolguard-spring: m2/ for Maven, jar/HASH/ for the
# jars). The jar is keyed by a hash of pom.xml and the sources: when the sources have not
# changed, nothing is built and Maven is not started. Maven's build directory is
# build/spring/target, so that the source tree stays clean.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
cache=${POOLGUARD_SPRING_CACHE:-${HOME:?HOME is not set}/.cache/poolguard-spring}
force=0
[ "${1:-}" = --force ] && force=1

log() { printf 'build.sh: %s\n' "$*" >&2; }

command -v mvn >/dev/null 2>&1 || { log "mvn not found (Maven 3 and a JDK 17 are needed)"; exit 1; }
hash=$( (cd "$here/app" && find pom.xml src -type f | LC_ALL=C sort | xargs sha256sum;
	java -version 2>&1) | sha256sum | cut -c1-16)
dir=$cache/jar/$hash
jar=$dir/app/poolprobe.jar
# The archive is written last: a build cut short is made again.
if [ "$force" = 0 ] && [ -s "$dir/app/poolprobe.jsa" ]; then
	echo "$jar"
	exit 0
fi

mkdir -p "$cache/m2" "$root/build/spring"
log "building poolprobe $hash (the first build downloads Spring Boot from Maven Central)"
start=$(date +%s)
if ! mvn -B -q -f "$here/app/pom.xml" -Dmaven.repo.local="$cache/m2" \
	-Dpoolprobe.build="$root/build/spring/target" -DskipTests package \
	>"$root/build/spring/mvn.log" 2>&1; then
	tail -n 40 "$root/build/spring/mvn.log" >&2
	log "mvn package failed (whole log: build/spring/mvn.log)"
	exit 1
fi
rm -rf "$dir"
mkdir -p "$dir/fat"
cp "$root/build/spring/target/poolprobe.jar" "$dir/fat/poolprobe.jar"
if ! java -Djarmode=tools -jar "$dir/fat/poolprobe.jar" extract --destination "$dir/app" \
	>"$root/build/spring/extract.log" 2>&1; then
	cat "$root/build/spring/extract.log" >&2
	log "unable to extract '$dir/fat/poolprobe.jar'"
	exit 1
fi
# The archive records the class path as given: the pods name the jar by the same absolute path.
if ! (cd "$dir/app" && java -XX:ArchiveClassesAtExit="$dir/app/poolprobe.jsa.tmp" \
	-Dspring.context.exit=onRefresh -jar "$jar") >"$root/build/spring/cds.log" 2>&1; then
	tail -n 20 "$root/build/spring/cds.log" >&2
	log "the training run for the class data sharing archive failed"
	exit 1
fi
if ! java -Xshare:on -XX:SharedArchiveFile="$dir/app/poolprobe.jsa.tmp" \
	-Dspring.context.exit=onRefresh -jar "$jar" >"$root/build/spring/cds-check.log" 2>&1; then
	log "warning: the JVM does not map '$dir/app/poolprobe.jsa' (pods start slower)"
fi
mv "$dir/app/poolprobe.jsa.tmp" "$dir/app/poolprobe.jsa"
log "built in $(($(date +%s) - start)) s: $jar"
echo "$jar"
