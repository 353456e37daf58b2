#!/usr/bin/env bash
# The install paths, for real: `cargo xtask dist` packs the given binary, then each package is
# installed the way users install it and the installed command is run.
#
#   bash tests/dist/run.sh [BIN]        # BIN defaults to target/debug/agentpool
#
# - the wheel into a fresh venv with pip, with `uv tool install`, `uvx --from` and `pipx`
#   (uv and pipx at the versions in requirements.txt, installed from PyPI into
#   target/dist-tools-venv and reused while requirements.txt is unchanged);
# - the npm launcher and platform packages with `npm install <local tgz>` into a temp prefix,
#   run through `npx`; the launcher alone says which platform package is missing;
# - install.sh from the local tarball into a temp HOME, and a tampered tarball refused.
# Each installed command prints the workspace version and answers an MCP initialize and
# tools/list (mcp_initialize.py). Nothing is published; only the tool install reaches PyPI;
# caches, HOME and AGENTPOOL_HOME are temporary. The last line is `dist: N passed, M failed`.
set -euo pipefail

bin_arg="${1:-target/debug/agentpool}"
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
case "$bin_arg" in
  /*) bin="$bin_arg" ;;
  *) bin="$PWD/$bin_arg"; [[ -e "$bin" ]] || bin="$root/$bin_arg" ;;
esac

passed=0
failed=0
summary() { echo "dist: $passed passed, $failed failed"; }
die() {
  echo "dist: $*" >&2
  failed=$((failed + 1))
  summary
  exit 1
}
command -v python3 >/dev/null 2>&1 || die "python3 is not installed (apt-get install python3 python3-venv)"
python3 -c 'import venv, ensurepip' >/dev/null 2>&1 || die "python3 has no venv support (apt-get install python3-venv)"
command -v npm >/dev/null 2>&1 || die "npm is not installed (apt-get install nodejs npm)"
[[ -x "$bin" ]] || die "no agentpool binary at $bin; build it first: cargo build -p agentpool-cli"

work="$(mktemp -d "${TMPDIR:-/tmp}/agentpool-dist.XXXXXX")"
trap 'rm -rf "$work"' EXIT

version="$(sed -n '/^\[workspace.package\]/,/^\[/s/^version *= *"\(.*\)"/\1/p' "$root/Cargo.toml")"
[[ -n "$version" ]] || die "could not read the workspace version from Cargo.toml"

check() {
  local name="$1"
  shift
  local out
  if out="$("$@" 2>&1)"; then
    passed=$((passed + 1))
    out="${out##*$'\n'}" # the last line says what happened
    echo "ok   $name${out:+: $out}"
  else
    failed=$((failed + 1))
    echo "FAIL $name: ${out//$'\n'/ | }"
  fi
}
# The installed command prints this workspace's version.
is_version() {
  local out
  out="$("$@" --version)" || return 1
  [[ "$out" == "agentpool $version" ]] || { echo "printed '$out', expected 'agentpool $version'"; return 1; }
  echo "$out"
}
mcp() { python3 "$here/mcp_initialize.py" "$@"; }

# --- build every package from this binary ------------------------------------------------------
# (Before HOME moves below: cargo and rustup find their toolchain through it.)
cargo xtask dist --binary "$bin" --out "$work/dist" >"$work/dist.list" || die "cargo xtask dist failed"
wheel="$(grep '\.whl$' "$work/dist.list")"
sdist="$(grep '/agentpool_cli-[^/]*\.tar\.gz$' "$work/dist.list")"
tarball="$(grep '/agentpool-[^/]*\.tar\.gz$' "$work/dist.list")"
launcher="$(grep "/agentpool-cli-$version\.tgz\$" "$work/dist.list")"
platform="$(grep -v "/agentpool-cli-$version\.tgz\$" "$work/dist.list" | grep '\.tgz$')"
for f in "$wheel" "$sdist" "$tarball" "$launcher" "$platform" "$work/dist/install.sh"; do
  [[ -f "$f" ]] || die "dist did not write $f"
done

# Nothing below may touch the user's pool, caches or tool directories.
export AGENTPOOL_HOME="$work/pool" HOME="$work/home"
export UV_CACHE_DIR="$work/uv-cache" UV_TOOL_DIR="$work/uv-tools" UV_TOOL_BIN_DIR="$work/uv-bin" UV_NO_CONFIG=1
export PIPX_HOME="$work/pipx" PIPX_BIN_DIR="$work/pipx-bin" PIPX_MAN_DIR="$work/pipx-man"
# pipx's shared pip is upgraded from PyPI when first made: keep it with the cached tools.
export PIPX_SHARED_LIBS="$root/target/dist-tools-venv/pipx-shared"
export npm_config_cache="$work/npm-cache" npm_config_update_notifier=false PIP_DISABLE_PIP_VERSION_CHECK=1
mkdir -p "$HOME"

# --- Python: pip, uv, uvx, pipx ----------------------------------------------------------------
python3 -m venv "$work/venv"
check "pip install <wheel>" "$work/venv/bin/pip" install --quiet --no-index "$wheel"
check "pip: agentpool --version" is_version "$work/venv/bin/agentpool"
check "pip: agentpool-cli --version" is_version "$work/venv/bin/agentpool-cli"
check "pip: agentpool mcp initialize" mcp "$work/venv/bin/agentpool" mcp
# Where no wheel fits, pip finds only the sdist of this version, and it refuses with the reason
# (rather than pip falling back to an older release of the package).
sdist_refuses() {
  python3 -m venv "$work/venv-sdist"
  # Only Python packages in the index (pip would take the npm tarball for an sdist too).
  mkdir -p "$work/pypi" && cp "$sdist" "$wheel" "$work/pypi/"
  local out
  # --isolated: the machine's pip settings (extra find-links) stay out of this offline check.
  if out="$("$work/venv-sdist/bin/pip" --isolated install --no-index --find-links "$work/pypi" --no-binary agentpool-cli \
    "agentpool-cli==$version" 2>&1)"; then
    echo "the sdist installed: $out"
    return 1
  fi
  [[ "$out" == *"has no prebuilt binary for this platform"* ]] || { echo "unclear failure: $out"; return 1; }
  [[ ! -e "$work/venv-sdist/bin/agentpool" ]] || { echo "something was installed"; return 1; }
  echo "refused: has no prebuilt binary for this platform"
}
check "pip with no matching wheel: the sdist refuses and says why" sdist_refuses

tools="$root/target/dist-tools-venv"
stamp="$tools/.agentpool-stamp"
want="$(sha256sum "$here/requirements.txt" | cut -d' ' -f1)-$(python3 -V)"
if [[ "$(cat "$stamp" 2>/dev/null || true)" != "$want" ]]; then
  rm -rf "$tools"
  python3 -m venv "$tools"
  "$tools/bin/pip" install --quiet -r "$here/requirements.txt" || die "could not install uv and pipx from PyPI"
  echo "$want" >"$stamp"
fi
check "uvx --from <wheel> agentpool --version" is_version "$tools/bin/uvx" --offline --from "$wheel" agentpool
check "uvx --from <wheel> agentpool mcp initialize" mcp "$tools/bin/uvx" --offline --from "$wheel" agentpool mcp
check "uvx --from <wheel> agentpool-cli mcp initialize" mcp "$tools/bin/uvx" --offline --from "$wheel" agentpool-cli mcp
check "uv tool install <wheel>" "$tools/bin/uv" tool install --quiet --offline "$wheel"
check "uv tool: agentpool --version" is_version "$UV_TOOL_BIN_DIR/agentpool"
check "uv tool: agentpool-cli (symlinked shim) --version" is_version "$UV_TOOL_BIN_DIR/agentpool-cli"
check "pipx install <wheel>" "$tools/bin/pipx" install --quiet --pip-args=--no-index "$wheel"
check "pipx: agentpool --version" is_version "$PIPX_BIN_DIR/agentpool"
check "pipx: agentpool mcp initialize" mcp "$PIPX_BIN_DIR/agentpool" mcp

# What `mcp-config --launcher uvx` writes into a host's config, run as the host would (the
# package index replaced by the dist directory).
launcher_line() {
  "$work/venv/bin/agentpool" mcp-config --client generic --launcher "$1" --json |
    python3 -c 'import json,sys; s=json.load(sys.stdin)["server"]; print("\n".join([s["command"], *s["args"]]))'
}
uvx_config() {
  local line
  mapfile -t line < <(launcher_line uvx)
  [[ "${line[0]}" == uvx ]] || { echo "mcp-config --launcher uvx wrote ${line[*]}"; return 1; }
  UV_OFFLINE=1 UV_FIND_LINKS="$work/dist" mcp "$tools/bin/${line[0]}" "${line[@]:1}"
}
check "mcp-config --launcher uvx: the host's command starts the server" uvx_config

# --- npm: launcher + platform package, run through npx ----------------------------------------
mkdir -p "$work/npm" "$work/npm-launcher-only"
check "npm install <platform tgz> <launcher tgz>" \
  npm install --offline --no-audit --no-fund --loglevel=error --prefix "$work/npm" "$platform" "$launcher"
in_npm() { (cd "$work/npm" && "$@"); }
check "npx agentpool --version" is_version in_npm npx --offline agentpool
npx_mcp() { (cd "$work/npm" && mcp npx --offline @agentpool/cli mcp); }
check "npx @agentpool/cli mcp initialize" npx_mcp
check "npx -y @agentpool/cli@$version --version" is_version in_npm npx --offline -y "@agentpool/cli@$version"
# npm picks the platform package through the launcher's optionalDependencies: the name and
# version there must be the platform package's own.
optional_names_platform() {
  python3 - "$work/npm/node_modules" <<'EOF'
import json, pathlib, sys
modules = pathlib.Path(sys.argv[1])
launcher = json.loads((modules / "@agentpool/cli/package.json").read_text())
platforms = [json.loads(p.read_text()) for p in modules.glob("@agentpool/cli-*/package.json")]
assert len(platforms) == 1, platforms
p = platforms[0]
wanted = launcher["optionalDependencies"].get(p["name"])
assert wanted == p["version"] == launcher["version"], (wanted, p["name"], p["version"])
print(f'{p["name"]}@{wanted} for {p["os"]}/{p["cpu"]}')
EOF
}
check "launcher optionalDependencies name the platform package" optional_names_platform
npx_config() {
  local line
  mapfile -t line < <(launcher_line npx)
  [[ "${line[0]}" == npx ]] || { echo "mcp-config --launcher npx wrote ${line[*]}"; return 1; }
  (cd "$work/npm" && npm_config_offline=true mcp "${line[@]}")
}
check "mcp-config --launcher npx: the host's command starts the server" npx_config
launcher_only() {
  npm install --offline --no-audit --no-fund --loglevel=error --prefix "$work/npm-launcher-only" "$launcher" >/dev/null 2>&1 || true
  local out
  if out="$(cd "$work/npm-launcher-only" && npx --offline agentpool --version 2>&1)"; then
    echo "ran without its platform package: $out"
    return 1
  fi
  [[ "$out" == *"@agentpool/cli-"*"is not installed"* ]] || { echo "unclear message: $out"; return 1; }
  echo "refused: ${out%%$'\n'*}"
}
check "npm launcher without its platform package names it" launcher_only

# --- install.sh: verified install from a local tarball, tampered tarball refused ----------------
check "install.sh --archive <tarball>" sh "$work/dist/install.sh" --archive "$tarball"
check "install.sh: ~/.local/bin/agentpool --version" is_version "$HOME/.local/bin/agentpool"
check "install.sh: agentpool mcp initialize" mcp "$HOME/.local/bin/agentpool" mcp
tampered() {
  local bad="$work/tampered/$(basename "$tarball")"
  mkdir -p "$work/tampered"
  cp "$tarball" "$bad"
  cp "$tarball.sha256" "$bad.sha256"
  printf 'x' >>"$bad"
  local out
  if out="$(sh "$work/dist/install.sh" --archive "$bad" --dir "$work/tampered-bin" 2>&1)"; then
    echo "installed a tampered tarball: $out"
    return 1
  fi
  [[ "$out" == *"checksum mismatch"* ]] || { echo "unclear refusal: $out"; return 1; }
  [[ ! -e "$work/tampered-bin/agentpool" ]] || { echo "the refused binary was installed anyway"; return 1; }
  echo "refused: ${out##*error: }"
}
check "install.sh refuses a tampered tarball and installs nothing" tampered
missing_checksum() {
  local lone="$work/lone/$(basename "$tarball")"
  mkdir -p "$work/lone"
  cp "$tarball" "$lone"
  local out
  if out="$(sh "$work/dist/install.sh" --archive "$lone" --dir "$work/lone-bin" 2>&1)"; then
    echo "installed without a checksum: $out"
    return 1
  fi
  [[ "$out" == *"no checksum file"* && ! -e "$work/lone-bin/agentpool" ]] || { echo "$out"; return 1; }
  echo "refused: ${out##*error: }"
}
check "install.sh refuses a tarball without its checksum file" missing_checksum
broken_binary() {
  local d="$work/broken" out
  mkdir -p "$d/agentpool-$version-x"
  printf '\177ELF not really\n' >"$d/agentpool-$version-x/agentpool"
  tar -czf "$d/broken.tar.gz" -C "$d" "agentpool-$version-x"
  (cd "$d" && sha256sum broken.tar.gz >broken.tar.gz.sha256)
  mkdir -p "$d/bin"
  cp "$HOME/.local/bin/agentpool" "$d/bin/agentpool"
  if out="$(sh "$work/dist/install.sh" --archive "$d/broken.tar.gz" --dir "$d/bin" 2>&1)"; then
    echo "installed a binary that does not run: $out"
    return 1
  fi
  [[ "$out" == *"does not run on this machine"* ]] || { echo "unclear refusal: $out"; return 1; }
  is_version "$d/bin/agentpool" >/dev/null || { echo "the working agentpool was replaced"; return 1; }
  echo "refused, and the installed agentpool still works"
}
check "install.sh refuses a binary that does not run and keeps the working one" broken_binary

summary
[[ "$failed" == 0 ]]
