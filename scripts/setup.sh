#!/usr/bin/env bash
# Installs everything vdispld needs on a Debian 12 machine and builds it:
#   Debian packages (compiler, headers, test tools), npm dependencies, the native addon, dist/.
# Idempotent: packages already present are not reinstalled. Needs root (or sudo) for apt.
set -euo pipefail
cd "$(dirname "$0")/.."

# Build: g++/make/pkg-config and the headers the addon compiles against (libdrm, xen/io/*.h, UAPI xen/*.h).
# Tests: edid-decode checks our EDIDs; xenstore-utils checks the simulated xenstored; systemd for
# systemd-analyze; chromium for the viewer test.
PKGS=(gcc g++ make pkg-config python3 libdrm-dev libxen-dev linux-libc-dev edid-decode xenstore-utils)
# Operations tests: systemd-analyze verify on the unit, a private systemd-journald, the viewer in chromium.
PKGS+=(systemd chromium)
# test/ops/systemd-pid1 boots systemd as PID 1 in a container with systemd-nspawn.
PKGS+=(systemd-container)
# test/shipped brings up loopback in a private network namespace with ip.
PKGS+=(iproute2)
# The Wayland output: libwayland-client, wayland-scanner and the protocol XML the addon's build
# generates its protocol code from (without them the addon builds without the Wayland output);
# Weston (headless backend, weston-screenshooter) is the real compositor test/wayland runs against;
# Xvfb and xdotool give its X11 backend a seat whose pointer and keys a test can drive.
PKGS+=(libwayland-dev wayland-protocols weston xvfb xdotool)
# `npm run lint` checks the native sources' formatting with clang-format (.clang-format).
PKGS+=(clang-format)
PKGS+=(${VDISPLD_EXTRA_PKGS:-})

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing Debian packages: ${missing[*]}"
  SUDO=""
  if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  echo "setup: Debian packages present"
fi

if ! command -v node >/dev/null || [ "$(node -p 'process.versions.node.split(".")[0]')" -lt 20 ]; then
  echo "setup: Node.js >= 20 is required (found: $(node --version 2>/dev/null || echo none)); install it, e.g. from Debian's nodejs in trixie or NodeSource" >&2
  exit 1
fi

echo "setup: npm ci (npm dependencies, native addon, TypeScript build)"
npm ci --no-audit --no-fund --loglevel=error
echo "setup: done"
