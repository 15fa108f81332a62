"""Chat channels: the plug-in interface, a supervisor per account, and Telegram."""
