"""The OpenClaw gateway in Python.

Kept import-free on purpose: ``openclaw --version`` and the CLI's fast paths import
only this module and the one command they run.
"""

__version__ = "0.1.0"

#: Gateway wire protocol version spoken by this package (OpenClaw protocol 4).
PROTOCOL_VERSION = 4
