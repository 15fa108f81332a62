"""Linking a WhatsApp account from the channels view: the QR code the gateway gets from
WhatsApp is shown, a new one replaces it when it rotates, and scanning it links the
account. WhatsApp cannot be reached from here, so the client behind the channel is the
stand-in at neonize's boundary (``fake_whatsapp.FakeClient``), emitting the same
events the real adapter does."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from fake_whatsapp import FakeClient
from inprocess import InProcessGateway
from openclaw.channels.whatsapp.events import EventHandler, QrCode
from ui.conftest import open_own_ui
from ui.viewkit import gateway_with, page_errors


@pytest.fixture
def clients(monkeypatch: pytest.MonkeyPatch) -> list[FakeClient]:
    """Every client the channel creates is a stand-in (the adapter's factory is swapped)."""
    made: list[FakeClient] = []
    adapter = pytest.importorskip("openclaw.channels.whatsapp.adapter")

    def create_client(path: Path, handler: EventHandler) -> FakeClient:
        client = FakeClient(path, handler)
        made.append(client)
        return client

    monkeypatch.setattr(adapter, "create_client", create_client)
    return made


@pytest.fixture
def whatsapp(tmp_path: Path, clients: list[FakeClient]) -> Iterator[InProcessGateway]:
    with gateway_with(tmp_path / "home", {"channels": {"whatsapp": {}}}) as gateway:
        yield gateway


def test_a_whatsapp_account_is_linked_by_scanning_the_qr_code_shown(
        page: Any, whatsapp: InProcessGateway, clients: list[FakeClient],
        screenshot: Any) -> None:
    errors = page_errors(page)
    open_own_ui(page, whatsapp, "channels")
    box = page.locator('[data-login="whatsapp/default"]')
    box.get_by_role("button", name="Link with a QR code").click()
    qr = box.locator('[data-field="login-qr"]')
    expect(qr).to_be_visible()
    first = qr.get_attribute("src")
    assert first is not None and first.startswith("data:image/png")
    qr.scroll_into_view_if_needed()
    screenshot(page, "channels-whatsapp-login")

    async def rotate() -> None:
        clients[-1].emit(QrCode("2@second-code"))

    whatsapp.run(rotate())
    expect(qr).not_to_have_attribute("src", first)

    async def scan() -> None:
        clients[-1].link()

    whatsapp.run(scan())
    account = page.locator('[data-account="whatsapp/default"]')
    expect(account.locator('[data-field="state"]')).to_have_text("Connected")
    assert errors == []


def test_a_pairing_code_needs_a_phone_number_and_is_shown(
        page: Any, whatsapp: InProcessGateway, clients: list[FakeClient]) -> None:
    open_own_ui(page, whatsapp, "channels")
    box = page.locator('[data-login="whatsapp/default"]')
    box.get_by_role("button", name="Use a pairing code").click()
    expect(box.get_by_role("alert")).to_contain_text("phone number")
    box.get_by_label("Or link with a pairing code: phone number").fill("+1 650 253 0000")
    box.get_by_role("button", name="Use a pairing code").click()
    expect(box.locator('[data-field="pairing-code"]')).to_have_text("ABCD-EFGH")
    assert ("pair", "16502530000") in clients[-1].sent
