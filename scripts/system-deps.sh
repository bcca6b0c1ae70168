#!/usr/bin/env bash
# Installs the Debian packages strongroom's suite needs, when their programs are missing.
# Arguments are PROGRAM:PACKAGE pairs. As root it runs apt-get; otherwise it prints
# the exact command and fails.
set -euo pipefail
missing=()
for pair in "$@"; do
  program=${pair%%:*}
  package=${pair#*:}
  command -v "$program" >/dev/null 2>&1 || missing+=("$package")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
  echo "strongroom needs: ${missing[*]}" >&2
  echo "install them with: sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi
echo "installing ${missing[*]} with apt-get" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq "${missing[@]}" >/dev/null
