"""``channels.status``, the login flow (``web.login.*``, ``channels.logout``) and DM pairing
(``channels.pairing.*``): channel accounts as the supervisors and the stores see them."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec

from openclaw.errors import UsageError
from openclaw.gateway.dispatch import ADMIN, READ, Context, Dispatcher

__all__ = ["register"]


class ChannelsStatusParams(msgspec.Struct, frozen=True, forbid_unknown_fields=True, rename="camel"):
    """``channels.status`` params. OpenClaw's clients send ``probe`` and ``timeoutMs``;
    they are accepted, and the answer is always live (the supervisors' state now)."""

    probe: bool = False
    timeout_ms: Annotated[int, msgspec.Meta(ge=0)] | None = None


def register(dispatcher: Dispatcher) -> None:
    """Install ``channels.status``."""

    @dispatcher.register("channels.status", READ, ChannelsStatusParams)
    def channels_status(ctx: Context, params: ChannelsStatusParams) -> dict[str, Any]:
        return ctx.app.channels.status_payload()

    register_login(dispatcher)


class LoginStartParams(msgspec.Struct, frozen=True, forbid_unknown_fields=True, rename="camel"):
    """``web.login.start`` (OpenClaw's shape) plus ``phoneNumber`` for a pairing code."""

    channel: str | None = None
    account_id: str | None = None
    force: bool = False
    timeout_ms: Annotated[int, msgspec.Meta(ge=1000, le=600_000)] = 30_000
    verbose: bool = False
    phone_number: str | None = None


class LoginWaitParams(msgspec.Struct, frozen=True, forbid_unknown_fields=True, rename="camel"):
    """``web.login.wait``: wait for the login ``sessionKey`` names (OpenClaw's shape)."""

    channel: str | None = None
    account_id: str | None = None
    session_key: str | None = None
    timeout_ms: Annotated[int, msgspec.Meta(ge=0, le=600_000)] = 120_000
    current_qr_data_url: str | None = None


class AccountParams(msgspec.Struct, frozen=True, forbid_unknown_fields=True, rename="camel"):
    """``channels.logout``: one account of one channel."""

    channel: str
    account_id: str | None = None


class PairingListParams(msgspec.Struct, frozen=True, forbid_unknown_fields=True, rename="camel"):
    """``channels.pairing.list``: pending requests (of one channel when given)."""

    channel: str | None = None


class PairingCodeParams(msgspec.Struct, frozen=True, forbid_unknown_fields=True, rename="camel"):
    """``channels.pairing.approve`` / ``.dismiss``: a code on a channel, or the
    ``requestId`` (``<channel>:<code>``) that ``channels.pairing.list`` gave."""

    channel: str | None = None
    code: str | None = None
    request_id: str | None = None
    account_id: str | None = None

    def target(self) -> tuple[str, str]:
        """``(channel, code)``, or UsageError when neither form is complete."""
        if self.request_id and ":" in self.request_id:
            channel, _, code = self.request_id.partition(":")
            return channel, code
        if self.channel and self.code:
            return self.channel.strip().lower(), self.code
        raise UsageError("give channel and code, or requestId")


def _phone_digits(phone: str) -> str:
    digits = "".join(char for char in phone if char.isdigit())
    if not 7 <= len(digits) <= 15:
        raise UsageError(f"not a phone number in international form: {phone!r} "
                         "(e.g. +16502530000)")
    return digits


def register_login(dispatcher: Dispatcher) -> None:
    """Install ``web.login.start``, ``web.login.wait``, ``channels.logout`` and the
    ``channels.pairing.*`` methods."""

    @dispatcher.register("web.login.start", ADMIN, LoginStartParams, concurrent=True)
    async def login_start(ctx: Context, params: LoginStartParams) -> dict[str, Any]:
        supervisor, channel = ctx.app.channels.login_channel(params.channel, params.account_id)
        phone = _phone_digits(params.phone_number) if params.phone_number else None
        result = await channel.login_start(force=params.force, phone=phone,
                                           timeout_s=params.timeout_ms / 1000)
        if result.get("connected"):
            supervisor.wake()
        return {"channel": channel.name, "accountId": channel.account_id, **result}

    @dispatcher.register("web.login.wait", ADMIN, LoginWaitParams, concurrent=True)
    async def login_wait(ctx: Context, params: LoginWaitParams) -> dict[str, Any]:
        supervisor, channel = ctx.app.channels.login_channel(params.channel, params.account_id)
        result = await channel.login_wait(session_key=params.session_key,
                                          current_qr=params.current_qr_data_url,
                                          timeout_s=params.timeout_ms / 1000)
        if result.get("connected"):
            supervisor.wake()
        return {"channel": channel.name, "accountId": channel.account_id, **result}

    @dispatcher.register("channels.logout", ADMIN, AccountParams, concurrent=True)
    async def logout(ctx: Context, params: AccountParams) -> dict[str, Any]:
        supervisor, channel = ctx.app.channels.login_channel(params.channel, params.account_id)
        cleared = await channel.logout()
        supervisor.wake()  # it finds no credentials and parks as not linked
        return {"channel": channel.name, "accountId": channel.account_id, "cleared": cleared}

    @dispatcher.register("channels.pairing.list", READ, PairingListParams)
    def pairing_list(ctx: Context, params: PairingListParams) -> dict[str, Any]:
        channel = params.channel.strip().lower() if params.channel else None
        store = ctx.app.pairing
        return {"requests": [request.to_wire() for request in store.pending(channel)],
                "approved": store.approved(channel)}

    @dispatcher.register("channels.pairing.approve", ADMIN, PairingCodeParams)
    def pairing_approve(ctx: Context, params: PairingCodeParams) -> dict[str, Any]:
        channel, code = params.target()
        request = ctx.app.pairing.approve(channel, code, params.account_id)
        return {"approved": True, **request.to_wire()}

    @dispatcher.register("channels.pairing.dismiss", ADMIN, PairingCodeParams)
    def pairing_dismiss(ctx: Context, params: PairingCodeParams) -> dict[str, Any]:
        channel, code = params.target()
        request = ctx.app.pairing.dismiss(channel, code, params.account_id)
        return {"dismissed": True, **request.to_wire()}
