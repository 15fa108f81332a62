"""``openclaw dashboard``: the Control UI's address with this profile's token, as a user
runs it against a real gateway."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import httpx

from harness import GatewayProcess, run_cli


def test_prints_the_ui_address_with_the_token_in_the_fragment(gateway: GatewayProcess) -> None:
    # no port given: the running gateway of this profile is found from its runtime record
    result = run_cli("dashboard", home=gateway.home)
    assert result.returncode == 0, result.stderr
    url = result.stdout.splitlines()[0]
    assert url == f"http://127.0.0.1:{gateway.port}/#token={gateway.token}"
    page = httpx.get(url)  # the fragment stays in the client; the page is the UI
    assert page.status_code == 200 and "<title>OpenClaw gateway</title>" in page.text
    assert page.headers["content-type"].startswith("text/html")
    data = run_cli("dashboard", "--json", home=gateway.home)
    assert json.loads(data.stdout) == {"ok": True, "url": url, "tokenIncluded": True,
                                       "opened": None}


def test_open_hands_the_address_to_the_browser(gateway: GatewayProcess, tmp_path: Path) -> None:
    record = tmp_path / "opened.txt"
    browser = tmp_path / "browser.py"
    browser.write_text(f"import sys\nopen({str(record)!r}, 'w').write(sys.argv[1])\n")
    result = run_cli("dashboard", "--open", home=gateway.home,
                     env={"BROWSER": f"{sys.executable} {browser} %s"})
    assert result.returncode == 0, result.stderr
    url, said = result.stdout.splitlines()[:2]
    assert said == "Opened in your browser."
    assert record.read_text() == url and url.endswith(f"#token={gateway.token}")


def test_explicit_url_and_token_and_no_secret(home: Path) -> None:
    remote = run_cli("dashboard", "--url", "wss://gw.example:8443", "--token", "a b/c",
                     home=home)
    assert remote.stdout.splitlines()[0] == "https://gw.example:8443/#token=a%20b%2Fc"
    bare = run_cli("dashboard", "--url", "ws://127.0.0.1:18789", home=home)
    assert bare.returncode == 0
    lines = bare.stdout.splitlines()
    assert lines[0] == "http://127.0.0.1:18789/"
    assert "the page will ask for one" in lines[1]
