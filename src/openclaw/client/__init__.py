"""Gateway clients: :mod:`~openclaw.client.sync` (blocking, the CLI's) and
:mod:`~openclaw.client.aio` (asyncio, reconnecting). Import the one you need; this
package imports neither, to keep the CLI's start-up lean."""
