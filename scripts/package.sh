#!/usr/bin/env bash
# Builds the Debian packages from the release binaries:
#   target/debian/pm-sync-server_VERSION_ARCH.deb and target/debian/pm-kiosk_VERSION_ARCH.deb
# With dpkg-deb and dpkg-shlibdeps, Debian's own tools (present wherever dpkg is; nothing to
# install, and what lintian checks against). Usage: scripts/package.sh [--arch ARCH]
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

host_arch=$(dpkg --print-architecture)
arch=$host_arch
while [ $# -gt 0 ]; do
  case "$1" in
    --arch) arch="${2:?--arch needs a value}"; shift 2 ;;
    --arch=*) arch="${1#--arch=}"; shift ;;
    *) echo "usage: scripts/package.sh [--arch ARCH]" >&2; exit 2 ;;
  esac
done
if [ "$arch" != "$host_arch" ]; then
  cat >&2 <<MSG
error: cannot build $arch packages on this $host_arch machine.
Cross-building needs the Rust standard library for the target (rustup target add ...) and a
cross C toolchain, and Rust targets cannot be downloaded on our build machines. Build on the
device itself (Raspberry Pi OS / Debian arm64): install Rust and the packages of
scripts/system-deps.sh there, clone the repository and run scripts/package.sh. See docs/install.md,
"Install on a kiosk".
MSG
  exit 1
fi

version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
[ -n "$version" ] || { echo "error: no version in Cargo.toml" >&2; exit 1; }

# The release binaries, built once (CI packages these same binaries).
if [ "${PM_SKIP_BUILD:-}" != 1 ]; then
  cargo build --release --locked -p sync-server -p kiosk
fi

out="$root/target/debian"
work="$root/target/debian/work"
rm -rf "$work"
mkdir -p "$out" "$work"

# package name, binary, description (first line), depends beyond shared libraries
build_deb() {
  local pkg=$1 bin=$2 summary=$3 extra_depends=$4 long=$5
  local dir="$work/$pkg"
  mkdir -p "$dir/DEBIAN" "$dir/usr/bin" "$dir/usr/share/doc/$pkg" "$dir/lib/systemd/system" "$dir/etc/$pkg"
  install -m 0755 "target/release/$bin" "$dir/usr/bin/$bin"
  strip --strip-unneeded --remove-section=.comment "$dir/usr/bin/$bin"
  install -m 0644 "packaging/$pkg/$pkg.service" "$dir/lib/systemd/system/$pkg.service"
  install -m 0644 packaging/copyright "$dir/usr/share/doc/$pkg/copyright"
  # The --help of every command, as the manual.
  {
    echo "$summary"
    echo
    "$dir/usr/bin/$bin" --help
    for sub in $("$dir/usr/bin/$bin" --help | awk '/^Commands:/{f=1;next} /^$/{f=0} f && $1 != "help" {print $1}'); do
      echo
      echo "== $bin $sub =="
      "$dir/usr/bin/$bin" "$sub" --help
    done
  } > "$dir/usr/share/doc/$pkg/README"
  chmod 0644 "$dir/usr/share/doc/$pkg/README"
  printf '%s (%s) unstable; urgency=medium\n\n  * Release %s.\n\n -- Parent Mentor maintainers <maintainers@example.invalid>  %s\n' \
    "$pkg" "$version" "$version" "$(date -R -u -d @"${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || date +%s)}")" \
    | gzip -9n > "$dir/usr/share/doc/$pkg/changelog.gz"
  chmod 0644 "$dir/usr/share/doc/$pkg/changelog.gz"
  for script in postinst prerm postrm; do
    install -m 0755 "packaging/$pkg/$script" "$dir/DEBIAN/$script"
  done
  if [ -f "packaging/$pkg/lintian-overrides" ]; then
    mkdir -p "$dir/usr/share/lintian/overrides"
    install -m 0644 "packaging/$pkg/lintian-overrides" "$dir/usr/share/lintian/overrides/$pkg"
  fi

  # Shared-library dependencies, as Debian computes them.
  local shlibs
  mkdir -p "$work/shlibs-$pkg/debian"
  printf 'Source: %s\n\nPackage: %s\nArchitecture: any\n' "$pkg" "$pkg" > "$work/shlibs-$pkg/debian/control"
  shlibs=$(cd "$work/shlibs-$pkg" && dpkg-shlibdeps -O -e"$dir/usr/bin/$bin" | sed -n 's/^shlibs:Depends=//p')
  if [ -z "$shlibs" ]; then
    echo "error: dpkg-shlibdeps found no shared-library dependencies for $bin" >&2
    exit 1
  fi
  local depends="$shlibs"
  [ -n "$extra_depends" ] && depends="$depends, $extra_depends"

  local size
  size=$(du -sk --exclude=DEBIAN "$dir" | cut -f1)
  {
    echo "Package: $pkg"
    echo "Version: $version"
    echo "Architecture: $arch"
    echo "Maintainer: Parent Mentor maintainers <maintainers@example.invalid>"
    echo "Installed-Size: $size"
    echo "Depends: $depends"
    echo "Section: misc"
    echo "Priority: optional"
    echo "Homepage: https://example.invalid/parent-mentor"
    echo "Description: $summary"
    echo "$long"
  } > "$dir/DEBIAN/control"
  (cd "$dir" && find etc -type f | sed 's|^|/|') > "$dir/DEBIAN/conffiles"
  (cd "$dir" && find . -type f ! -path './DEBIAN/*' -printf '%P\0' | sort -z | xargs -0 md5sum) > "$dir/DEBIAN/md5sums"
  chmod 0644 "$dir/DEBIAN/control" "$dir/DEBIAN/conffiles" "$dir/DEBIAN/md5sums"
  local deb="$out/${pkg}_${version}_${arch}.deb"
  dpkg-deb --root-owner-group -Zxz --build "$dir" "$deb" >/dev/null
  echo "$deb"
}

# Config files first (their path decides what is a conffile).
mkdir -p "$work/pm-sync-server/etc/pm-sync-server" "$work/pm-kiosk/etc/pm-kiosk"
install -m 0644 packaging/pm-sync-server/config.toml "$work/pm-sync-server/etc/pm-sync-server/config.toml"
install -m 0644 packaging/pm-kiosk/kiosk.env "$work/pm-kiosk/etc/pm-kiosk/kiosk.env"

build_deb pm-sync-server sync-server \
  "Parent Mentor sync server: kiosk events, hours, stipends, reports" \
  "adduser" \
  " Merges every school kiosk's event log exactly once, computes volunteer
 hours and stipend eligibility for a Parent Mentor Program, and serves the
 organizers' page (English and Spanish), the program report for funders,
 health, metrics and scheduled backups."

build_deb pm-kiosk kiosk \
  "Parent Mentor kiosk: QR badge check-in touchscreen for a school's parent room" \
  "adduser, cage, fonts-dejavu-core" \
  " Mentors check in and out by holding their QR badge to the webcam; hours
 are kept in a local SQLite file first and synced to the server. Runs full
 screen under the cage Wayland kiosk compositor on tty1, restarted by
 systemd's watchdog if its UI hangs."
