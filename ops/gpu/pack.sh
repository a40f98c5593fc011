#!/usr/bin/env bash
# Packs what the GPU machine needs to run dkv's Java code (it has torch but no Java) into .runtime/
# (git-ignored; name it in the device tool's `carry`): a jlink'd Temurin 25 runtime and the runtime jars
# of one module (default: cli, i.e. everything), xz-compressed to stay under the 64 MiB a call may carry.
# The CPU libtorch jar stays behind (the GPU host uses its own torch through PYTORCH_LIBRARY_PATH), and
# jars with per-platform natives keep only linux-x86_64.
# Usage: ./mvnw -q -DskipTests install && [DKV_PACK_SCORE_ONLY=1 | DKV_PACK_STREAM=1] ops/gpu/pack.sh [module]
# On the GPU machine: source ops/gpu/unpack.sh  → exports DKV_JAVA and DKV_LIB
set -euo pipefail
cd "$(dirname "$0")/../.."
module=${1:-cli}
jdk=${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}
stage=$(mktemp -d /tmp/dkv-pack.XXXXXX)
trap 'rm -rf "$stage"' EXIT
mkdir -p .runtime "$stage/lib"
# DKV_PACK_STREAM=1: the services through the embedded broker (scorer, produce, export: ops/gpu/scale-out.sh,
# stream-vs-offline.sh) in what may travel beside the working tree — the broker stays, and what those services never
# load goes: java.desktop, jdk.jfr and java.net.http in the runtime image; log4j-core (it needs java.desktop's
# java.beans; without it Kafka's log4j API calls fall back to its simple logger and the broker disables its logging
# endpoint), the Jinja engine's jars (generator), commons-math3 (aggregator) and
# SentencePiece (GLM). (Lucene stays: the producer counts document frequencies.)
modules=java.base,java.logging,java.management,java.naming,java.security.jgss,java.security.sasl,java.sql,jdk.unsupported,jdk.crypto.ec,jdk.httpserver,jdk.management,java.xml
[ "${DKV_PACK_STREAM:-0}" = 1 ] || modules=$modules,jdk.jfr,java.net.http,java.desktop
"$jdk/bin/jlink" --add-modules "$modules" \
  --strip-debug --no-header-files --no-man-pages --compress=zip-0 --output "$stage/jre"
./mvnw -q -o -pl "$module" dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$stage/lib"
cp "$module"/target/dkv-*.jar "$stage/lib/"
# Not needed to score on a GPU host: the CPU libtorch, HTTP/3 natives, the dashboard's chart library, and DuckDB
# (the Parquet/CSV dataset readers: 80 MB of natives; GPU runs read JSON lines).
rm -f "$stage"/lib/pytorch-native-cpu-* "$stage"/lib/*-tests.jar "$stage"/lib/*-sources.jar \
  "$stage"/lib/netty-codec-native-quic-* "$stage"/lib/echarts-* "$stage"/lib/duckdb_jdbc-*
slim() { # jar, patterns of entries to drop
  local jar=$1; shift
  [ -f "$jar" ] && zip -q -d "$jar" "$@" >/dev/null 2>&1 || true
}
# DKV_PACK_SCORE_ONLY=1: also leave out the embedded broker (Scala, Kafka's server side, log4j): enough for
# `dkv score` and the benchmarks, and small enough to travel beside a larger working tree.
if [ "${DKV_PACK_SCORE_ONLY:-0}" = 1 ]; then
  rm -f "$stage"/lib/scala-* "$stage"/lib/kafka_2.13-* "$stage"/lib/kafka-server-* "$stage"/lib/kafka-group-coordinator-* \
    "$stage"/lib/kafka-metadata-* "$stage"/lib/kafka-raft-* "$stage"/lib/kafka-storage-* "$stage"/lib/kafka-coordinator-common-* \
    "$stage"/lib/kafka-share-coordinator-* "$stage"/lib/kafka-transaction-coordinator-* "$stage"/lib/log4j-* \
    "$stage"/lib/jackson-module-scala* "$stage"/lib/jackson-dataformat-csv-*
fi
if [ "${DKV_PACK_STREAM:-0}" = 1 ]; then
  rm -f "$stage"/lib/jinjava-* "$stage"/lib/javassist-* "$stage"/lib/commons-net-* \
    "$stage"/lib/java-ipv6-* "$stage"/lib/big-math-* "$stage"/lib/jackson-dataformat-yaml-* \
    "$stage"/lib/algebra-* "$stage"/lib/commons-math3-* "$stage"/lib/sentencepiece-* "$stage"/lib/log4j-core-*
fi
for jar in "$stage"/lib/sentencepiece-*.jar; do slim "$jar" 'native/lib/linux-aarch64/*' 'native/lib/osx-*' 'native/lib/win-*'; done
for jar in "$stage"/lib/tokenizers-*.jar; do slim "$jar" 'native/lib/linux-aarch64/*' 'native/lib/osx-*' 'native/lib/win-*'; done
for jar in "$stage"/lib/zstd-jni-*.jar; do slim "$jar" 'aix/*' 'darwin/*' 'freebsd/*' 'win/*' 'linux/aarch64/*' 'linux/arm/*' 'linux/i386/*' 'linux/loongarch64/*' 'linux/mips64/*' 'linux/ppc64/*' 'linux/ppc64le/*' 'linux/riscv64/*' 'linux/s390x/*'; done
for jar in "$stage"/lib/snappy-java-*.jar; do slim "$jar" 'org/xerial/snappy/native/FreeBSD/*' 'org/xerial/snappy/native/Mac/*' 'org/xerial/snappy/native/SunOS/*' 'org/xerial/snappy/native/Windows/*' 'org/xerial/snappy/native/AIX/*' 'org/xerial/snappy/native/Linux/a*' 'org/xerial/snappy/native/Linux/arm*' 'org/xerial/snappy/native/Linux/loongarch64/*' 'org/xerial/snappy/native/Linux/ppc*' 'org/xerial/snappy/native/Linux/riscv64/*' 'org/xerial/snappy/native/Linux/s390x/*' 'org/xerial/snappy/native/Linux/x86/*'; done
# Store jars uncompressed (and the runtime image too, above) so that xz sees raw bytes: much smaller in sum.
for jar in "$stage"/lib/*.jar; do
  (mkdir -p "$stage/x" && cd "$stage/x" && unzip -q -o "$jar" && rm -f "$jar" && zip -q -0 -r -X "$jar" . && cd .. && rm -rf "$stage/x")
done
tar -C "$stage" -cf - jre lib | xz -T2 -9 > .runtime/dkv-pack.tar.xz
du -h .runtime/dkv-pack.tar.xz
