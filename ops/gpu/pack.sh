#!/usr/bin/env bash
# Packs what the GPU machine needs to run dkv's Java code (it has torch but no Java) into .runtime/
# (git-ignored; name it in the device tool's `carry`): a jlink'd Temurin 25 runtime and the app jars,
# xz-compressed to stay under the 64 MiB a call may carry. The CPU libtorch jar stays behind: the GPU
# host uses its own torch install through PYTORCH_LIBRARY_PATH.
# Usage: ops/gpu/pack.sh            (after ./mvnw -DskipTests install)
# On the GPU machine: source ops/gpu/unpack.sh  → exports DKV_JAVA and DKV_LIB
set -euo pipefail
cd "$(dirname "$0")/../.."
jdk=${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}
out=.runtime
rm -rf "$out" /tmp/dkv-pack && mkdir -p "$out" /tmp/dkv-pack/lib
"$jdk/bin/jlink" --add-modules java.base,java.logging,java.management,java.naming,java.security.jgss,java.security.sasl,java.sql,jdk.unsupported,jdk.crypto.ec,jdk.httpserver,java.net.http,jdk.management,java.xml \
  --strip-debug --no-header-files --no-man-pages --compress=zip-6 --output /tmp/dkv-pack/jre
for jar in cli/target/lib/*.jar cli/target/*.jar; do
  case "$(basename "$jar")" in
    pytorch-native-cpu-*|*-tests.jar|*-sources.jar) continue ;;
  esac
  cp "$jar" /tmp/dkv-pack/lib/
done
tar -C /tmp/dkv-pack -cJf "$out/dkv-pack.tar.xz" jre lib
du -h "$out/dkv-pack.tar.xz"
