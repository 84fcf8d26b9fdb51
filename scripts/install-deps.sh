#!/usr/bin/env bash
# Installs the Debian packages Carnet needs to build, test and run, and only
# those that are missing, so a second run is instant and needs no network.
set -euo pipefail

packages=(
  build-essential cmake pkg-config clang clang-format
  liblmdb-dev lmdb-utils libsodium-dev libuv1-dev libmsgpack-dev libcmocka-dev
  libjansson-dev libutf8proc-dev
  libmicrohttpd-dev libcurl4-openssl-dev
  libxlsxwriter-dev libzip-dev libexpat1-dev libicu-dev libphonenumber-dev
  scdoc man-db bash-completion dpkg-dev file systemd
  python3 python3-cffi
  chromium chromium-driver python3-selenium
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then
    SUDO=sudo
  else
    echo "install-deps: missing packages (${missing[*]}); run this script as root" >&2
    exit 1
  fi
else
  SUDO=
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "install-deps: done"
