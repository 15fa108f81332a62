"""The gateway's own Control UI: served from the package, connected with the token
from the URL fragment, which never reaches the server or stays in the address bar."""

from __future__ import annotations

from typing import Any

import httpx

from inprocess import InProcessGateway
from ui.conftest import open_own_ui


def test_the_ui_is_served_with_a_strict_policy_and_etags(own_ui: InProcessGateway) -> None:
    base = f"http://127.0.0.1:{own_ui.port}"
    index = httpx.get(f"{base}/")
    assert index.status_code == 200 and "text/html" in index.headers["content-type"]
    policy = index.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy
    assert "frame-ancestors 'none'" in policy
    again = httpx.get(f"{base}/", headers={"If-None-Match": index.headers["etag"]})
    assert again.status_code == 304 and again.content == b""
    script = httpx.get(f"{base}/gateway.js", headers={"Accept-Encoding": "gzip"})
    assert script.headers.get("content-encoding") == "gzip"
    assert "text/javascript" in script.headers["content-type"]
    assert httpx.get(f"{base}/../../pyproject.toml").status_code == 404
    assert httpx.get(f"{base}/views/../gateway.js").status_code in (200, 404)


def test_the_token_in_the_fragment_connects_and_leaves_the_address_bar(
        page: Any, own_ui: InProcessGateway) -> None:
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    open_own_ui(page, own_ui)
    assert own_ui.token not in page.url
    assert all(own_ui.token not in url for url in requested)
    logs = [path.read_text() for path in own_ui.profile.log_dir.glob("*.log")]
    assert all(own_ui.token not in text for text in logs)
