"""``python -m openclaw``: the same entry point as the ``openclaw`` command."""

from openclaw.cli.main import main

raise SystemExit(main())
