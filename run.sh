#!/usr/bin/env bash
# One entry point for a fresh machine. It creates .venv, installs the project and its
# dependencies, and then:
#   ./run.sh demo     run the local demo (starts Kafka + QuestDB itself; jars fetched on first use)
#   ./run.sh test     lint, type-check and run the whole test suite against real servers
#   ./run.sh bench    run the benchmarks under benchmarks/
#   ./run.sh <args>   anything else is passed to the `lifeline` command line
set -euo pipefail
cd "$(dirname "$0")"

PY=${PYTHON:-python3}
if ! "$PY" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  echo "error: Python 3.11 or newer is required (found: $("$PY" --version 2>&1)). Set PYTHON=/path/to/python3.11." >&2
  exit 1
fi
stamp=.venv/.installed-$(cat pyproject.toml | sha1sum | cut -c1-12)
if [ ! -f "$stamp" ]; then
  echo "==> setting up .venv (first run, or pyproject.toml changed)"
  [ -x .venv/bin/python ] || "$PY" -m venv .venv
  .venv/bin/python -m pip install --quiet --upgrade pip
  .venv/bin/python -m pip install --quiet -e '.[dev]'
  rm -f .venv/.installed-*
  touch "$stamp"
fi
export PATH="$PWD/.venv/bin:$PATH"

cmd=${1:-help}
case "$cmd" in
  demo)
    shift
    exec lifeline demo "$@"
    ;;
  test)
    shift
    # the browser tests (tests/browser, Playwright) drive Debian's Chromium (never `playwright install`);
    # the health-report test prints a PDF with it and rasterises the first page with pdftoppm
    missing=""
    for need in /usr/bin/chromium:chromium pdftoppm:poppler-utils fc-list:fonts-noto-cjk; do
      command -v "${need%%:*}" >/dev/null 2>&1 || missing="$missing ${need##*:}"
    done
    if [ -n "$missing" ]; then
      if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "==> installing$missing (apt-get)"
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing fonts-noto-cjk >/dev/null
      else
        echo "error: the browser and report tests need:$missing. Install them as root: apt-get install -y$missing fonts-noto-cjk" >&2
        exit 1
      fi
    fi
    echo "==> ruff"
    ruff check .
    ruff format --check .
    echo "==> mypy"
    python -m lifeline._devtools typecheck
    echo "==> pytest"
    exec python -m pytest "$@"
    ;;
  bench)
    shift
    exec python -m benchmarks "$@"
    ;;
  help|-h|--help)
    sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'
    ;;
  *)
    exec lifeline "$@"
    ;;
esac
