"""``python -m ciam_server`` is ``ciam-server``."""

from ciam_server.cli import main

main()
