#!/usr/bin/env bash
# Checks (and, as root or with password-less sudo, installs) the Debian packages this project
# needs to build and test. Otherwise it stops at once with the exact apt-get line to run.
# Keep this list the single source of truth: README.md and .ci/run both go through here.
set -euo pipefail

packages=(
  build-essential   # C compiler for bundled SQLite and ring (rustls)
  pkg-config
  libclang-dev      # nokhwa's V4L2 bindings are generated with bindgen at build time
  libfontconfig1-dev  # Slint finds fonts through fontconfig
  fonts-dejavu-core   # at least one font, or Slint cannot draw text
  chromium          # the organizer page's end-to-end tests render it headless
  chromium-driver   # ... and drive it through WebDriver (clicks, typing, reading the page)
  nodejs npm        # npm fetches axe-core for the organizer page's accessibility test
  lintian curl      # scripts/check-packages.sh: the .deb packages checked and tried
  postgresql        # the server's tests on PostgreSQL start a throwaway cluster with its initdb
  xvfb              # a private X server: the kiosk window's end-to-end test (kiosk --demo)
  cage xwayland grim  # the packaged kiosk command line run under cage (headless), screenshot
  # The libraries winit loads at run time to open the kiosk window on X11.
  libx11-xcb1 libxcursor1 libxi6 libxrandr2 libxkbcommon-x11-0
)

if ! command -v cargo >/dev/null 2>&1; then
  echo "error: cargo not found. Install Rust first: https://rustup.rs" >&2
  exit 1
fi

missing=()
for p in "${packages[@]}"; do
  # Node.js from elsewhere (NodeSource, nvm) brings its own npm, which Debian's npm conflicts with.
  if { [ "$p" = nodejs ] || [ "$p" = npm ]; } && command -v node >/dev/null && command -v npm >/dev/null; then
    continue
  fi
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
axe_core() {
  # axe-core (pinned in tests/axe/package-lock.json), loaded only by the accessibility test.
  local dir
  dir="$(cd "$(dirname "$0")/../tests/axe" && pwd)"
  if [ ! -f "$dir/node_modules/axe-core/axe.min.js" ]; then
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
  fi
}
if [ ${#missing[@]} -eq 0 ]; then
  axe_core
  exit 0
fi

if [ "$(id -u)" -eq 0 ]; then
  apt_get=(apt-get)
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  apt_get=(sudo apt-get)
else
  echo "error: missing system packages. Run this, then try again:" >&2
  echo "  sudo apt-get update && sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi
echo "Installing system packages: ${missing[*]}" >&2
"${apt_get[@]}" update -qq
DEBIAN_FRONTEND=noninteractive "${apt_get[@]}" install -y -qq --no-install-recommends "${missing[@]}"
axe_core
