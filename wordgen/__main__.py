"""`python -m wordgen ...` is the `wordgen` command; torchrun starts it this way (`torchrun ... -m wordgen train`)."""

import sys

from wordgen.cli import main

sys.exit(main())
