# shellcheck shell=bash
# Shared helpers for scripts/browser-test, scripts/test and .ci/run: headless Chromium, its
# WebDriver and a Python with selenium. Source this file; it defines functions only.

# Where selenium goes when the system's python3 does not have it (Debian's python3 refuses
# `pip install` outside a virtual environment). Under .build/, so git and Docker ignore it.
BROWSER_VENV=$PWD/.build/browser-test-venv

# browser_apt_install PACKAGE...: installs Debian packages when root and apt-get is here.
browser_apt_install() {
  [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null || return 1
  echo "Installing Debian's $* with apt-get..." >&2
  DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2 &&
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >&2
}

# Finds Chromium and its WebDriver (installing Debian's chromium and chromium-driver when
# missing and possible) and sets CHROMIUM and CHROMEDRIVER.
browser_find_chromium() {
  CHROMIUM=${CHROMIUM:-$(command -v chromium || command -v chromium-browser || true)}
  CHROMEDRIVER=${CHROMEDRIVER:-$(command -v chromedriver || true)}
  if [ -x "$CHROMIUM" ] && [ -x "$CHROMEDRIVER" ]; then return 0; fi
  if browser_apt_install chromium chromium-driver; then
    CHROMIUM=$(command -v chromium) && CHROMEDRIVER=$(command -v chromedriver) && return 0
    echo "Installed Debian's chromium and chromium-driver, but chromium or chromedriver is still not on PATH." >&2
  fi
  echo "Chromium and chromedriver were not found, and could not be installed." >&2
  echo "Install them: 'sudo apt-get install chromium chromium-driver' on Debian/Ubuntu, or set CHROMIUM and CHROMEDRIVER to their paths." >&2
  return 1
}

# Finds a Python 3 that can import selenium (making a virtual environment with selenium from
# PyPI when needed) and sets BROWSER_PYTHON.
browser_find_python() {
  if python3 -c 'import selenium' 2>/dev/null; then
    BROWSER_PYTHON=$(command -v python3)
    return 0
  fi
  # shellcheck disable=SC2034 # for the scripts that source this file
  BROWSER_PYTHON=$BROWSER_VENV/bin/python
  if "$BROWSER_PYTHON" -c 'import selenium' 2>/dev/null; then return 0; fi
  echo "Installing selenium from PyPI into $BROWSER_VENV..." >&2
  if browser_make_venv && "$BROWSER_PYTHON" -m pip install -q --disable-pip-version-check 'selenium>=4.11,<5' >&2; then
    return 0
  fi
  rm -rf "$BROWSER_VENV"
  echo "Could not install selenium for the browser test: it needs python3 with venv (Debian: python3-venv) and PyPI." >&2
  return 1
}

# A new virtual environment in BROWSER_VENV. Debian's python3 makes one only with python3-venv.
browser_make_venv() {
  rm -rf "$BROWSER_VENV"
  python3 -m venv "$BROWSER_VENV" >&2 && return 0
  rm -rf "$BROWSER_VENV"
  browser_apt_install python3-venv && python3 -m venv "$BROWSER_VENV" >&2
}

# Everything the browser test needs, installed when missing; fails, saying what is missing.
browser_find_dependencies() {
  browser_find_chromium && browser_find_python
}
