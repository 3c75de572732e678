#!/usr/bin/env bash
# Make the project's two virtual environments from the pinned requirement
# files: .venv-rasa (Python 3.10, Rasa and the action server) and .venv
# (Python 3.11+, handoff service, tests, tools). An environment whose
# requirement file and interpreter did not change is left alone, so running
# this again takes a moment.
set -euo pipefail
cd "$(dirname "$0")/.."

die() { echo "setup: $*" >&2; exit 1; }

is_version() { # python major.minor-min major.minor-max
  "$1" -c "import sys; sys.exit(not ($2) <= sys.version_info[:2] <= ($3))" 2>/dev/null
}

find_python310() {
  if command -v python3.10 >/dev/null 2>&1 && is_version python3.10 "3,10" "3,10"; then
    command -v python3.10; return
  fi
  if command -v pyenv >/dev/null 2>&1; then
    for candidate in "$(pyenv root)"/versions/3.10.*/bin/python3.10; do
      if [ -x "$candidate" ] && is_version "$candidate" "3,10" "3,10"; then echo "$candidate"; return; fi
    done
  fi
  die "Rasa 3.6 needs Python 3.10, found neither python3.10 on PATH nor one in pyenv.
Install it, for example with 'pyenv install 3.10' or your system's python3.10
package (Debian/Ubuntu: python3.10 python3.10-venv), then run this again."
}

find_python3() {
  for candidate in python3 python3.13 python3.12 python3.11; do
    if command -v "$candidate" >/dev/null 2>&1 && is_version "$candidate" "3,11" "3,13"; then
      command -v "$candidate"; return
    fi
  done
  die "the handoff service needs Python 3.11 or newer; install python3.11 and run this again."
}

ensure_venv() { # dir python requirement-file
  local dir=$1 python=$2 requirements=$3 stamp
  stamp="$("$python" --version 2>&1) $(sha256sum "$requirements" | cut -d' ' -f1)"
  if [ -f "$dir/.installed" ] && [ "$(cat "$dir/.installed")" = "$stamp" ]; then
    return
  fi
  echo "setup: installing $requirements into $dir (once) ..."
  [ -x "$dir/bin/python" ] || "$python" -m venv "$dir"
  "$dir/bin/python" -m pip install --quiet --disable-pip-version-check -r "$requirements" \
    2> >(grep -v "^WARNING: Location" >&2)
  echo "$stamp" > "$dir/.installed"
}

ensure_venv .venv-rasa "$(find_python310)" requirements/rasa.txt
ensure_venv .venv "$(find_python3)" requirements/handoff.txt
