"""The gateway daemon (asyncio): listener, lifecycle, dispatch, events, methods."""
