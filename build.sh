#!/usr/bin/env bash
# Builds the single-file gateway executables into dist/: one per target, each with the static
# assets and database migrations inside. Needs only `npm ci` beforehand (Bun comes from npm).
set -euo pipefail
cd "$(dirname "$0")"

bun=./node_modules/.bin/bun
[ -x "$bun" ] || { echo "build.sh: run 'npm ci' first (Bun is installed from npm)" >&2; exit 1; }

targets=("${@:-linux-x64 linux-arm64}")
# shellcheck disable=SC2206
targets=(${targets[*]})
mkdir -p dist
for target in "${targets[@]}"; do
  out="dist/mss-login-$target"
  echo "building $out"
  # The NSFW classifier's worker is its own entrypoint: Bun embeds workers only when named here.
  "$bun" build src/main.ts src/nsfw/classifier/worker.ts --compile --minify \
    --target="bun-$target" --outfile "$out" >/dev/null
  ls -l "$out" | awk '{printf "  %s bytes\n", $5}'
done
