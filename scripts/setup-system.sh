#!/usr/bin/env bash
# Install the system packages Vigie needs, with Debian's apt, only when missing.
#   scripts/setup-system.sh node     Node.js + npm (to install the pinned Leaflet files)
#   scripts/setup-system.sh browser  Chromium (headless browser tests and screenshots)
set -euo pipefail

need_apt=()
case "${1:-}" in
  node)
    command -v npm >/dev/null 2>&1 || need_apt+=(nodejs npm)
    ;;
  browser)
    command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
    # fonts for readable screenshots (accents included)
    [ -e /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || need_apt+=(fonts-dejavu-core)
    ;;
  *)
    echo "usage: $0 node|browser" >&2
    exit 2
    ;;
esac

if [ ${#need_apt[@]} -eq 0 ]; then
  exit 0
fi

if [ "$(id -u)" -eq 0 ]; then
  SUDO=""
elif command -v sudo >/dev/null 2>&1; then
  SUDO="sudo"
else
  echo "Vigie a besoin des paquets Debian : ${need_apt[*]}" >&2
  echo "Installez-les (en root) : apt-get install -y ${need_apt[*]}" >&2
  exit 1
fi

echo "Installation des paquets système : ${need_apt[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${need_apt[@]}"
