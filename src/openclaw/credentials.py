"""The gateway's shared secret: where it comes from, and the generated fallback token.

With no token configured anywhere, the gateway generates one on first start and
keeps it owner-only (0600 in a 0700 directory) in the profile's state dir; the CLI
reads the same file, so a fresh install works with no setup and no secret ever
appears in a config file, a unit file or a log line.
"""

from __future__ import annotations

import os

from openclaw.atomicfile import write_atomic
from openclaw.paths import Profile, ensure_private_dir

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pathlib import Path

    from openclaw.configfile import LenientConfig

__all__ = [
    "load_or_create_token",
    "read_generated_token",
    "stored_credentials",
    "stored_credentials_with_source",
]


def read_generated_token(profile: Profile) -> str | None:
    """The generated token of ``profile``, or ``None`` when there is none (yet)."""
    try:
        token = profile.token_path.read_text(encoding="utf-8").strip()
    except (FileNotFoundError, NotADirectoryError, PermissionError):
        return None
    return token or None


def load_or_create_token(profile: Profile) -> tuple[str, bool]:
    """Return ``(token, created)``, creating the owner-only token file if missing."""
    existing = read_generated_token(profile)
    if existing:
        return existing, False
    path: Path = profile.token_path
    ensure_private_dir(profile.state_dir)
    ensure_private_dir(path.parent)
    import secrets

    # 256 bits in hex: no leading "-", which a command line would read as a flag
    # (`--token -x…`), and nothing that needs quoting in a URL fragment or a shell
    token = secrets.token_hex(32)
    write_atomic(path, token + "\n", 0o600)
    return token, True


def stored_credentials(profile: Profile, config: LenientConfig
                       ) -> tuple[str | None, str | None]:
    """The secret a local gateway of ``profile`` was started with, as far as we can know.

    The same order the service sees: environment, then the service env file, then the
    config file, then the generated token.
    """
    token, password, _ = stored_credentials_with_source(profile, config)
    return token, password


def stored_credentials_with_source(
    profile: Profile, config: LenientConfig
) -> tuple[str | None, str | None, str | None]:
    """:func:`stored_credentials` plus where the token came from.

    The source (``OPENCLAW_GATEWAY_TOKEN``, ``service-env``, ``gateway.auth.token``,
    ``token-file``, or ``None`` without a token) lets an auth refusal name the place
    to look instead of listing every possible one.
    """
    from openclaw.envfile import read_env_file

    service_env = read_env_file(profile.service_env_path)
    sources = (
        ("OPENCLAW_GATEWAY_TOKEN", os.environ.get("OPENCLAW_GATEWAY_TOKEN")),
        ("service-env", service_env.get("OPENCLAW_GATEWAY_TOKEN")),
        ("gateway.auth.token", config.string("gateway.auth.token")),
    )
    token, source = next(((value, name) for name, value in sources if value), (None, None))
    password = (
        os.environ.get("OPENCLAW_GATEWAY_PASSWORD")
        or service_env.get("OPENCLAW_GATEWAY_PASSWORD")
        or config.string("gateway.auth.password")
    )
    if not token and not password:
        token = read_generated_token(profile)
        source = "token-file" if token else None
    return token or None, password or None, source
