"""`python -m ocm_core`: the headless server (the same as `ocm-server`)."""

import sys

from ocm_core.cli.server import server_main

sys.exit(server_main())
