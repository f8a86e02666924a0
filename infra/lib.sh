# Shared helpers for the infra scripts. Source it: `. "$(dirname "$0")/lib.sh"`.
# Tools are cached outside the clone so a fresh clone reuses them and CI on a new
# machine installs them once.
set -euo pipefail
PULSE_CACHE="${PULSE_CACHE:-$HOME/.cache/pulse}"
PULSE_VENV="${PULSE_VENV:-$PULSE_CACHE/venv-core}"
PULSE_TOOLS="${PULSE_TOOLS:-$PULSE_CACHE/tools}"
PULSE_NODE="${PULSE_NODE:-$PULSE_CACHE/node}"
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# Exported so the tests (cargo test) find the same venv and tools.
export PULSE_CACHE PULSE_VENV PULSE_TOOLS PULSE_NODE
mkdir -p "$PULSE_CACHE" "$PULSE_TOOLS" "$PULSE_NODE"

log() { printf '\033[1;34m[pulse]\033[0m %s\n' "$*" >&2; }
warn() { printf '\033[1;33m[pulse]\033[0m %s\n' "$*" >&2; }
die() { printf '\033[1;31m[pulse]\033[0m %s\n' "$*" >&2; exit 1; }

# apt_install PKG...: installs Debian packages that are missing (needs root or sudo).
apt_install() {
  local missing=()
  for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  ((${#missing[@]})) || return 0
  local sudo=""
  [[ $(id -u) -eq 0 ]] || sudo="sudo"
  log "apt: installing ${missing[*]} (about a minute)"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
}
