"""``openclaw dashboard``: the Control UI's address, with this profile's token.

The token goes in the URL fragment (``#token=…``), which a browser never sends to a
server; the page takes it from there, removes it from the address bar and keeps it
for that gateway only. The gateway and the secret are found as for every other
client command (:func:`openclaw.cli.common.resolve_target`).
"""

from __future__ import annotations

from openclaw.cli.common import resolve_target, wants_json
from openclaw.cli.render import emit
from openclaw.result import CommandResult

TYPE_CHECKING = False  # typing costs import time on the CLI path
if TYPE_CHECKING:
    import argparse
    from typing import Any

__all__ = ["DashboardResult", "dashboard", "dashboard_url"]


def dashboard_url(gateway_url: str, secret: str | None) -> str:
    """The page's address for a WebSocket ``gateway_url``, with ``secret`` in the fragment."""
    from urllib.parse import quote, urlsplit, urlunsplit

    parts = urlsplit(gateway_url)
    scheme = {"ws": "http", "wss": "https"}.get(parts.scheme, parts.scheme)
    fragment = f"token={quote(secret, safe='')}" if secret else ""
    return urlunsplit((scheme, parts.netloc, "/", "", fragment))


class DashboardResult(CommandResult):
    """The address, whether it carries a secret and whether a browser was opened."""

    def __init__(self, url: str, with_secret: bool, opened: bool | None) -> None:
        self.url = url
        self.with_secret = with_secret
        self.opened = opened  # None: not asked to open one

    def to_json(self) -> Any:
        return {"ok": True, "url": self.url, "tokenIncluded": self.with_secret,
                "opened": self.opened}

    def to_text(self) -> str:
        lines = [self.url]
        if self.opened is True:
            lines.append("Opened in your browser.")
        elif self.opened is False:
            lines.append("No browser could be started here: open the address above in one.")
        if not self.with_secret:
            lines.append("No token or password was found for this gateway: the page will ask "
                         "for one if the gateway needs it.")
        return "\n".join(lines)


def dashboard(ns: argparse.Namespace) -> int:
    """Print (and with ``--open`` open) the Control UI's address; exit 0."""
    target = resolve_target(ns)
    secret = target.token or target.password
    url = dashboard_url(target.url, secret)
    opened: bool | None = None
    if getattr(ns, "open", False):
        import webbrowser

        try:
            opened = webbrowser.open(url)
        except webbrowser.Error:
            opened = False
    return emit(DashboardResult(url, bool(secret), opened), wants_json(ns))
