#!/usr/bin/env bash
# Installs and builds everything Oakley needs on a fresh Debian machine, offline except for the
# Debian and npm registries: softhsm2 (apt-get, when missing), npm packages, the native addon
# (against node's headers in /usr/include/node; node-gyp must never download them), TypeScript.
# Idempotent and quiet when everything is already in place.
# With --interop, also strongSwan (the reference peer of test/interop) and the namespace tools;
# with --kernel, iproute2 and strace (test/kernel).
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf 'setup: %s\n' "$*" >&2; }

apt_install() {
  local missing=("$@")
  log "installing Debian packages: ${missing[*]}"
  local sudo=()
  [ "$(id -u)" -eq 0 ] || sudo=(sudo)
  if [ -z "$(find /var/lib/apt/lists -maxdepth 1 -name '*Packages*' -print -quit 2>/dev/null)" ] || [ "${OAKLEY_APT_UPDATE:-0}" = 1 ]; then
    "${sudo[@]}" apt-get update -qq
  fi
  if ! DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq "${missing[@]}" >/dev/null; then
    "${sudo[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
}

need=()
command -v softhsm2-util >/dev/null 2>&1 || need+=(softhsm2)
command -v openssl >/dev/null 2>&1 || need+=(openssl)
command -v g++ >/dev/null 2>&1 || need+=(g++)
command -v make >/dev/null 2>&1 || need+=(make)
command -v python3 >/dev/null 2>&1 || need+=(python3)
if [ "${1:-}" = --interop ]; then
  [ -x /usr/lib/ipsec/charon ] || need+=(strongswan-charon libcharon-extra-plugins libstrongswan-extra-plugins)
  command -v swanctl >/dev/null 2>&1 || need+=(strongswan-swanctl)
  command -v pki >/dev/null 2>&1 || need+=(strongswan-pki)
  command -v ip >/dev/null 2>&1 || need+=(iproute2)
  command -v unshare >/dev/null 2>&1 || need+=(util-linux)
fi
if [ "${1:-}" = --kernel ]; then
  # test:kernel: namespaces and XFRM state/policy listings (iproute2), iproute2's own requests (strace).
  command -v ip >/dev/null 2>&1 || need+=(iproute2)
  command -v strace >/dev/null 2>&1 || need+=(strace)
fi
[ ${#need[@]} -eq 0 ] || apt_install "${need[@]}"

if [ ! -f /usr/include/node/node_api.h ]; then
  log "node headers are missing from /usr/include/node (the nodejs package ships them); cannot build the addon offline"
  exit 1
fi

# node-gyp reads nodedir from .npmrc too; the environment covers callers that bypass npm.
export npm_config_nodedir=/usr

stamp=node_modules/.oakley-installed
if [ ! -f "$stamp" ] || [ package.json -nt "$stamp" ] || { [ -f package-lock.json ] && [ package-lock.json -nt "$stamp" ]; }; then
  log "installing npm packages"
  if [ -f package-lock.json ]; then npm ci --no-audit --no-fund --ignore-scripts=false >&2; else npm install --no-audit --no-fund >&2; fi
  touch "$stamp"
fi

addon=build/Release/oakley.node
if [ ! -f "$addon" ] || [ -n "$(find binding.gyp native -newer "$addon" -print -quit)" ]; then
  log "building the native addon"
  npx --no-install node-gyp rebuild --nodedir=/usr >/tmp/oakley-node-gyp.log 2>&1 || { cat /tmp/oakley-node-gyp.log >&2; exit 1; }
fi

log "compiling TypeScript"
npx --no-install tsc -p tsconfig.json
