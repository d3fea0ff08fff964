"""`python -m ocm_core.chat`: the terminal client."""

import sys

from .cli import chat_main

if __name__ == "__main__":
    sys.exit(chat_main())
