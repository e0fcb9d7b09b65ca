#!/bin/sh
# Print the path of a Python interpreter that runs, for the Makefile and .ci/run.
#
#   find_python.sh            the first of python3.11, python3.12, python3.13, python3.10, python3 that runs
#                             and is one of the versions we support (3.10-3.13)
#   find_python.sh 3.13       that version: python3.13 on PATH, else pyenv's newest 3.13.x (found even where
#   find_python.sh python3.13 pyenv's shim refuses it because another version is selected)
#   find_python.sh /path/to/python
#
# Exits 1 with a message saying what to install when nothing fits.
set -u

SUPPORTED="3.10 3.11 3.12 3.13"

runs() { [ -n "$1" ] && "$1" -c "import sys" >/dev/null 2>&1; }

version_of() { "$1" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null; }

pyenv_python() {  # $1 = X.Y: the newest pyenv install of it, if any
    root=$(pyenv root 2>/dev/null || echo "${PYENV_ROOT:-$HOME/.pyenv}")
    for dir in $(ls -d "$root/versions/$1".* 2>/dev/null | sort -r -V); do
        if runs "$dir/bin/python$1"; then echo "$dir/bin/python$1"; return 0; fi
    done
    return 1
}

find_version() {  # $1 = X.Y
    found=$(command -v "python$1" 2>/dev/null)
    if runs "$found"; then echo "$found"; return 0; fi
    pyenv_python "$1"
}

if [ $# -eq 0 ] || [ -z "$1" ]; then
    for version in 3.11 3.12 3.13 3.10; do
        if find_version "$version"; then exit 0; fi
    done
    found=$(command -v python3 2>/dev/null)
    if runs "$found" && case " $SUPPORTED " in *" $(version_of "$found") "*) true;; *) false;; esac; then
        echo "$found"; exit 0
    fi
    echo "find_python: no Python $SUPPORTED found on PATH or in pyenv; install one (e.g. 'pyenv install 3.12')" >&2
    exit 1
fi

wanted=$1
case "$wanted" in
    */*)      if runs "$wanted"; then echo "$wanted"; exit 0; fi ;;
    python*)  version=${wanted#python}; found=$(command -v "$wanted" 2>/dev/null)
              if runs "$found"; then echo "$found"; exit 0; fi
              case "$version" in 3.*) if pyenv_python "$version"; then exit 0; fi ;; esac ;;
    3.*)      if find_version "$wanted"; then exit 0; fi ;;
esac
echo "find_python: no working '$wanted' (looked on PATH and in pyenv's versions); install it" \
     "(e.g. 'pyenv install ${wanted#python}') or pass PYTHON=/path/to/python" >&2
exit 1
