#!/usr/bin/env bash
# Sets up a fresh machine: pnpm, the workspace's packages, and (with --test) the system
# packages the test suites use. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v pnpm >/dev/null 2>&1 || [[ "$(pnpm --version)" != 10.* ]]; then
  npm install -g pnpm@10.34.9
fi

if [[ "${1:-}" == "--test" ]]; then
  apt_packages=(iproute2 chromium fonts-liberation nftables redis-server openssl)
  missing=()
  for p in "${apt_packages[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  if ((${#missing[@]})); then
    if [[ $(id -u) -ne 0 ]]; then
      echo "setup: these system packages are needed for the tests: ${missing[*]} (run as root or install them)" >&2
      exit 1
    fi
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
  fi
fi

pnpm install --frozen-lockfile
