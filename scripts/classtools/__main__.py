# SPDX-License-Identifier: MIT
"""python3 scripts/classtools {import,compare,report} ...: see classtools.cli."""

import os
import sys

if not __package__:
    # Run as "python3 scripts/classtools": make the package importable from its parent folder.
    sys.path[0] = os.path.dirname(os.path.abspath(sys.path[0]))

from classtools.cli import main  # noqa: E402

sys.exit(main())
