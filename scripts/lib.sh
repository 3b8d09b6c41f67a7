# Shared by scripts/run.sh and scripts/test.sh: a virtualenv in .venv with slawatch installed.
# Sourced, not run.

PYTHON=${PYTHON:-python3}

need_python() {
  if ! command -v "$PYTHON" >/dev/null 2>&1 ||
     ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
    echo "slawatch needs Python 3.11 or newer as '$PYTHON' (set PYTHON=... to choose another)" >&2
    exit 1
  fi
}

apt_install() {
  # apt_install PACKAGE...: install Debian packages, as root, when a step needs them.
  if [ "$(id -u)" -ne 0 ]; then
    echo "missing Debian packages: $*; run as root or: sudo apt-get install -y $*" >&2
    return 1
  fi
  if [ -z "${SLAWATCH_APT_UPDATED:-}" ]; then
    apt-get update -qq
    SLAWATCH_APT_UPDATED=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

ensure_venv() {
  # ensure_venv [EXTRA]: create .venv and (re)install slawatch when pyproject.toml changed.
  local extra=${1:-} stamp=.venv/.installed
  need_python
  if [ ! -x .venv/bin/python ]; then
    if ! "$PYTHON" -m venv .venv 2>/dev/null; then
      rm -rf .venv
      apt_install python3-venv
      "$PYTHON" -m venv .venv
    fi
  fi
  local want
  want="$(sha256sum pyproject.toml | cut -d' ' -f1) ${extra}"
  if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    .venv/bin/python -m pip install -q --upgrade pip
    .venv/bin/python -m pip install -q -e ".${extra:+[$extra]}"
    echo "$want" > "$stamp"
  fi
}
