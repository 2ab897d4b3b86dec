#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The class tools (make import, compare, report: scripts/classtools/) under their unit tests and
# the hostile-bundle suite (tests/python/test_*.py), one line per test.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
python3 tests/python/tap.py
