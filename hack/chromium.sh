#!/usr/bin/env bash
# Makes sure headless Chromium is installed for the wizard's browser tests, from the OS packages
# (Debian's chromium) when missing. Idempotent; prints nothing when it is already there.
set -euo pipefail

if command -v chromium >/dev/null 2>&1; then
  exit 0
fi
echo "chromium.sh: installing Chromium from the OS packages for the browser tests" >&2
if [[ "$(id -u)" -eq 0 ]]; then sudo=""; else sudo="sudo"; fi
$sudo apt-get update -qq >&2
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium >&2
command -v chromium >/dev/null
