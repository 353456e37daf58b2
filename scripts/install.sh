#!/bin/sh
# Installs the `agentpool` binary from a release tarball, after checking it against its
# published SHA-256 checksum.
#
#   curl -fsSL https://github.com/agentpool/agentpool/releases/latest/download/install.sh | sh
#   sh install.sh --archive ./agentpool-0.2.0-x86_64-unknown-linux-gnu.tar.gz
#
# Options (or the environment variable in brackets):
#   --version V     release to download (AGENTPOOL_VERSION; default: the release this script
#                   came with)
#   --archive PATH  install from a local tarball instead of downloading; its checksum is read
#                   from PATH.sha256 unless --sha256 names another file
#   --sha256 FILE   the checksum file to verify against
#   --dir DIR       where to put `agentpool` (AGENTPOOL_INSTALL_DIR; default: ~/.local/bin)
#
# A tarball whose checksum does not match is refused and nothing is installed. Nothing else on
# the machine is changed: no shell profile is edited (the script says when DIR is not on PATH).
set -eu

default_version="0.2.0"
repo_url="https://github.com/agentpool/agentpool"

usage() {
  cat <<'EOF'
Usage: install.sh [--version V] [--archive PATH [--sha256 FILE]] [--dir DIR]

Installs agentpool from a release tarball after verifying its SHA-256 checksum.
  --version V     release to download (env AGENTPOOL_VERSION)
  --archive PATH  install from a local tarball; checksum read from PATH.sha256
  --sha256 FILE   the checksum file to verify against
  --dir DIR       install directory (env AGENTPOOL_INSTALL_DIR; default ~/.local/bin)
EOF
}
say() { printf 'install.sh: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

version="${AGENTPOOL_VERSION:-$default_version}"
version="${version#v}"
dir="${AGENTPOOL_INSTALL_DIR:-}"
archive=""
sha_file=""
while [ $# -gt 0 ]; do
  case "$1" in
    --version) [ $# -ge 2 ] || die "--version needs a value"; version="${2#v}"; shift 2 ;;
    --archive) [ $# -ge 2 ] || die "--archive needs a path"; archive="$2"; shift 2 ;;
    --sha256) [ $# -ge 2 ] || die "--sha256 needs a path"; sha_file="$2"; shift 2 ;;
    --dir) [ $# -ge 2 ] || die "--dir needs a path"; dir="$2"; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) die "unknown option '$1' (see --help)" ;;
  esac
done
if [ -z "$dir" ]; then
  [ -n "${HOME:-}" ] || die "HOME is not set; pass --dir"
  dir="$HOME/.local/bin"
fi

sha256_of() {
  if command -v sha256sum >/dev/null 2>&1; then
    sha256sum "$1" | cut -d' ' -f1
  elif command -v shasum >/dev/null 2>&1; then
    shasum -a 256 "$1" | cut -d' ' -f1
  else
    die "neither sha256sum nor shasum is installed, so the download cannot be verified"
  fi
}

target_triple() {
  os=$(uname -s)
  arch=$(uname -m)
  case "$arch" in
    x86_64|amd64) arch=x86_64 ;;
    aarch64|arm64) arch=aarch64 ;;
    *) die "no release is built for the $arch architecture; build from source: $repo_url/blob/main/docs/install.md" ;;
  esac
  case "$os" in
    Linux) echo "$arch-unknown-linux-gnu" ;;
    Darwin) echo "$arch-apple-darwin" ;;
    *) die "no release is built for $os; build from source: $repo_url/blob/main/docs/install.md" ;;
  esac
}

fetch() {
  if command -v curl >/dev/null 2>&1; then
    curl -fsSL --proto '=https' -o "$2" "$1"
  elif command -v wget >/dev/null 2>&1; then
    wget -q -O "$2" "$1"
  else
    die "neither curl nor wget is installed; download the tarball yourself and pass --archive"
  fi
}

work=$(mktemp -d "${TMPDIR:-/tmp}/agentpool-install.XXXXXX")
staged=""
cleanup() { rm -rf "$work"; [ -z "$staged" ] || rm -f "$staged"; }
trap cleanup EXIT
# Interrupted means stopped: nothing is installed after Ctrl-C or a kill.
trap 'exit 130' INT
trap 'exit 143' TERM HUP

if [ -z "$archive" ]; then
  name="agentpool-$version-$(target_triple).tar.gz"
  say "downloading $name"
  fetch "$repo_url/releases/download/v$version/$name" "$work/$name" || die "could not download $name"
  fetch "$repo_url/releases/download/v$version/$name.sha256" "$work/$name.sha256" \
    || die "could not download $name.sha256"
  archive="$work/$name"
  [ -n "$sha_file" ] || sha_file="$work/$name.sha256"
fi
[ -f "$archive" ] || die "no such tarball: $archive"
[ -n "$sha_file" ] || sha_file="$archive.sha256"
[ -f "$sha_file" ] || die "no checksum file: $sha_file (pass --sha256 FILE)"

# `<hex>  <name>` lines (sha256sum's format, also SHA256SUMS files listing several): take the
# line naming this tarball, else the only line there is.
name_of_archive=$(basename "$archive")
expected=$(tr -d '\r' < "$sha_file" | awk -v n="$name_of_archive" '
  { f = $2; sub(/^\*/, "", f) }
  f == n { print $1; found = 1; exit }
  NR == 1 { first = $1 }
  END { if (!found && NR == 1) print first }' | tr 'A-F' 'a-f')
actual=$(sha256_of "$archive")
case "$expected" in
  *[!0-9a-f]*|"") die "$sha_file holds no SHA-256 checksum for $name_of_archive" ;;
  ????????????????????????????????????????????????????????????????) ;;
  *) die "$sha_file holds no SHA-256 checksum for $name_of_archive" ;;
esac
if [ "$expected" != "$actual" ]; then
  die "checksum mismatch for $archive: expected $expected, got $actual; nothing was installed"
fi

mkdir -p "$work/unpacked"
tar -xzf "$archive" -C "$work/unpacked" || die "could not unpack $archive"
binary=$(find "$work/unpacked" -type f -name agentpool | head -n 1)
[ -n "$binary" ] || die "$archive holds no agentpool binary"
chmod 755 "$binary"
# It must run here before it replaces anything (a binary for another system, or one that needs
# a newer C library than this machine has, stops here).
new_version=$("$binary" --version 2>&1) \
  || die "the agentpool in $archive does not run on this machine: $new_version; nothing was installed"

mkdir -p "$dir" || die "could not create $dir"
old_version=""
if [ -e "$dir/agentpool" ] || [ -L "$dir/agentpool" ]; then
  old_version=$("$dir/agentpool" --version 2>/dev/null || echo "an agentpool that does not run")
fi
# Copy beside the target, then rename: a running agentpool is never left half-written.
staged="$dir/.agentpool.new.$$"
cp "$binary" "$staged" || die "could not write to $dir"
mv -f "$staged" "$dir/agentpool" || die "could not install into $dir"
staged=""
if [ -n "$old_version" ]; then
  say "replaced $old_version with $new_version at $dir/agentpool"
else
  say "installed $new_version to $dir/agentpool"
fi
case ":${PATH:-}:" in
  *":$dir:"*) ;;
  *) say "$dir is not on your PATH; add it, e.g.: export PATH=\"$dir:\$PATH\"" ;;
esac
say "next: agentpool doctor"
