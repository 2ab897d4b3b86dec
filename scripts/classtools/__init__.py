# SPDX-License-Identifier: MIT
"""The class tools: make import, make compare and make report.

They read results from strangers' machines (a class's bundles), so they are written in Python for
its real parsers (tarfile, csv) rather than in shell: every bundle is parsed, never evaluated
(bundle), every file checked once where it is read (results), and every string escaped by
construction where it is shown (safe for the terminal, gnuplot and spreadsheets, html for the
page). Standard library only: nothing to install beyond python3.
"""
