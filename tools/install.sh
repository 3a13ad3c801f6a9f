#!/usr/bin/env bash
# `make install`: Debian packages (only the missing ones), a virtual environment in .venv with torch
# and the project installed editable. Idempotent: a second run with nothing changed takes a fraction
# of a second, because the pip step is skipped while its inputs (pyproject.toml, this script, the
# torch flavour) hash to the stamp written by the last successful install.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${VENV:-.venv}
PYTHON=${PYTHON:-python3}
TORCH_VERSION=2.13.0

# --- 1. Debian packages -------------------------------------------------------------------------
enable_contrib_non_free() {
    local deb822=/etc/apt/sources.list.d/debian.sources
    if [[ -f $deb822 ]] && grep -q '^Components: main$' "$deb822"; then
        echo "install: adding contrib and non-free to $deb822"
        sed -i 's/^Components: main$/Components: main contrib non-free/' "$deb822"
    elif [[ -f /etc/apt/sources.list ]] && grep -Eq '^deb .* main$' /etc/apt/sources.list; then
        echo "install: adding contrib and non-free to /etc/apt/sources.list"
        sed -i -E 's/^(deb .* main)$/\1 contrib non-free/' /etc/apt/sources.list
    fi
}
# `make test` sets ASR_TEST_DEPS=1: the test-only packages too (a browser for the page's test); `make install` not.
lists=(tools/apt-packages.txt)
[[ ${ASR_TEST_DEPS:-0} == 1 ]] && lists+=(tools/apt-packages-test.txt)
packages=$(cat "${lists[@]}" | grep -v -e '^#' -e '^\s*$')
if command -v dpkg-query >/dev/null 2>&1; then
    missing=()
    for p in $packages; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    if ((${#missing[@]})); then
        line="apt-get update && apt-get install -y --no-install-recommends ${missing[*]}"
        if [[ $(id -u) -ne 0 ]]; then
            echo "install: these Debian packages are missing; as root, run:" >&2
            echo "    sudo sh -c '$line'" >&2
            echo "  (some voices are in Debian's contrib and non-free components: add them to apt's sources first)" >&2
            exit 1
        fi
        echo "install: Debian packages: ${missing[*]}"
        export DEBIAN_FRONTEND=noninteractive
        # Some voices (MBROLA, RHVoice, SVOX Pico, festival's MBROLA voices) are in contrib and non-free.
        enable_contrib_non_free
        apt-get update -qq
        apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    fi
else
    echo "install: not a Debian system; make sure these are installed: $(echo $packages)" >&2
fi

# --- 2. which torch -----------------------------------------------------------------------------
if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then
    flavour=cuda
else
    flavour=cpu
fi

# --- 3. virtual environment ---------------------------------------------------------------------
stamp="$VENV/.install-stamp"
want=$( (cat pyproject.toml tools/install.sh; echo "$flavour $TORCH_VERSION") | sha256sum | cut -d' ' -f1)

# KenLM's lmplz and build_binary (asr lm build), compiled once into a cache outside the repository (about 80 s;
# ~/.cache/asr/kenlm/, see asr/decoding/kenlm_tools.py). Checked on every run because that cache can go away
# while .venv stays; the check imports no torch and takes a few tens of milliseconds.
kenlm_tools() {
    "$VENV/bin/python" -m asr.decoding.kenlm_tools --quiet
}

# Kokoro's English voice files come from the npm package kokoro-js (checksummed), unpacked into ~/.cache/asr once.
# Without npm, the generated corpus is made without the Kokoro voices (asr prep synthetic --list-voices says so).
kokoro_voices() {
    local dir
    dir=$("$VENV/bin/python" -c 'from data_prep.voices import kokoro_voice_dir as d; print(d())')
    [[ -f $dir/source.json ]] && return 0
    if ! command -v npm >/dev/null 2>&1; then
        echo "install: npm not found: the Kokoro voices (npm kokoro-js) are left out of generated corpora" >&2
        return 0
    fi
    local tmp
    tmp=$(mktemp -d)
    echo "install: Kokoro voices (npm kokoro-js)"
    if (cd "$tmp" && npm pack --silent kokoro-js@1.2.1 >/dev/null 2>&1); then
        "$VENV/bin/python" -c 'import sys; from data_prep.voices import unpack_kokoro_voices as u; u(sys.argv[1])' \
            "$tmp"/kokoro-js-1.2.1.tgz
    else
        echo "install: npm pack kokoro-js failed: the Kokoro voices are left out of generated corpora" >&2
    fi
    rm -rf "$tmp"
}

if [[ -f $stamp && $(cat "$stamp") == "$want" && -x $VENV/bin/asr ]]; then
    kenlm_tools
    kokoro_voices
    exit 0
fi

if [[ ! -x $VENV/bin/python ]]; then
    "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' ||
        { echo "install: Python 3.11 or newer is needed ($PYTHON is $("$PYTHON" --version))" >&2; exit 1; }
    "$PYTHON" -m venv "$VENV"
fi
pip=("$VENV/bin/python" -m pip --disable-pip-version-check -q)

installed_torch=$("$VENV/bin/python" -c 'import torch; print(torch.__version__)' 2>/dev/null || true)
if [[ $flavour == cuda ]]; then
    # PyPI's Linux wheel of torch is the CUDA build.
    [[ $installed_torch == "$TORCH_VERSION" || $installed_torch == "$TORCH_VERSION+cu"* ]] ||
        "${pip[@]}" install "torch==$TORCH_VERSION"
else
    # Never let pip resolve a bare `torch` here: PyPI's wheel pulls several GB of CUDA libraries.
    # The CPU wheel is taken from pip's find-links when present, else from PyTorch's CPU index.
    if [[ $installed_torch != "$TORCH_VERSION+cpu" ]]; then
        echo "install: torch $TORCH_VERSION (CPU build)"
        "${pip[@]}" install "torch==$TORCH_VERSION+cpu" 2>/dev/null ||
            "${pip[@]}" install "torch==$TORCH_VERSION+cpu" --index-url https://download.pytorch.org/whl/cpu
    fi
fi

echo "install: the asr package and its Python dependencies"
# torch is already present and satisfies the project's range, so this never replaces it.
# (This machine's pip configuration names local index folders that may be absent: drop that noise.)
"${pip[@]}" install -e ".[dev,voices]" 2> >(grep -v -e "is ignored: it is neither" >&2)
"$VENV/bin/python" - <<PY
import sys, torch
if "$flavour" == "cpu" and torch.version.cuda is not None:
    sys.exit(f"install: expected the CPU build of torch, found {torch.__version__}")
import asr  # noqa: F401  (the editable install works)
PY
kenlm_tools
kokoro_voices
echo "$want" > "$stamp"
echo "install: ready ($VENV, torch $("$VENV/bin/python" -c 'import torch; print(torch.__version__)'))"
