"""`python -m ftui …`: the same as the `ftui` command (detached runs start it this way)."""

import sys

from ftui.cli import main

sys.exit(main())
