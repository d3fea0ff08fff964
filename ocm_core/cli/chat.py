"""`python -m ocm_core.cli.chat`: the terminal client."""

import sys

from ocm_core.cli.main import chat_main

if __name__ == "__main__":
    sys.exit(chat_main())
