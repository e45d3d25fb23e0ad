"""`python -m wordgen.cli`: the same as the `wordgen` command."""

import sys

from wordgen.cli import main

sys.exit(main())
