#!/usr/bin/env bash
# Fetches axe-core (the accessibility engine browsers' dev tools use) from the npm registry into
# the cache outside the checkout, checks its integrity, and prints the path of axe.min.js. The
# wizard's browser test runs it on every page. Idempotent.
set -euo pipefail

version=4.14.1
integrity=sha512-FHfa+lmNjQZfJz1q8wKqIDwC6DExcHt/pkjNQb09a3NPjCKg2rhu5qb2S4r76ASyFNNtuFooJpZe37OgudVGtQ==
dir="${XDG_CACHE_HOME:-$HOME/.cache}/enterprise-identity-operator/axe-core-$version"
if [[ ! -f "$dir/axe.min.js" ]]; then
  for tool in curl openssl; do
    if ! command -v "$tool" >/dev/null 2>&1; then
      if [[ "$(id -u)" -eq 0 ]]; then sudo=""; else sudo="sudo"; fi
      $sudo apt-get update -qq >&2
      DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$tool" >&2
    fi
  done
  tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' EXIT
  curl -fsSL "https://registry.npmjs.org/axe-core/-/axe-core-$version.tgz" -o "$tmp/axe.tgz"
  got="sha512-$(openssl dgst -sha512 -binary "$tmp/axe.tgz" | base64 -w0)"
  if [[ "$got" != "$integrity" ]]; then
    echo "axe.sh: axe-core $version does not match its registry integrity ($got)" >&2
    exit 1
  fi
  tar -xzf "$tmp/axe.tgz" -C "$tmp" package/axe.min.js
  mkdir -p "$dir"
  mv "$tmp/package/axe.min.js" "$dir/axe.min.js"
fi
echo "$dir/axe.min.js"
