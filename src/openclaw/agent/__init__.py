"""The agent runtime: runs, sessions and model providers."""
