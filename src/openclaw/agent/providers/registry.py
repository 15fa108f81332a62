"""Model references and providers: ``"openai/gpt-4o-mini"`` → a ready :class:`Provider`.

Four providers are built in (:data:`BUILTIN_PROVIDERS`): ``offline`` (no network),
``openai``, ``anthropic`` and ``ollama`` (a local OpenAI-compatible server).
``models.providers.<id>`` in the config overrides a built-in's ``baseUrl`` and key,
or defines a new provider id, which must then name its ``api`` and ``baseUrl``.

The API key comes from, in order: ``apiKey``; the environment variable named by
``apiKeyEnv``; the built-in's variable (``OPENAI_API_KEY``, ``ANTHROPIC_API_KEY``).
The official OpenAI and Anthropic endpoints refuse every call without a key, so a
missing one is reported when the provider is built, naming where to put it.

Errors are :class:`ValueError` with a message fit for a
:class:`~openclaw.errors.ConfigError` reason or a
:class:`~openclaw.errors.UsageError` (the caller knows which it is).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final, Literal

from openclaw.agent.providers.base import Provider
from openclaw.config import Config, ModelProviderConfig, ModelsConfig

if TYPE_CHECKING:  # the HTTP stack is imported only when an HTTP provider is built
    import httpx

__all__ = ["BUILTIN_PROVIDERS", "BuiltinProvider", "build_provider", "parse_model_ref"]

Api = Literal["offline", "openai-completions", "anthropic-messages"]


@dataclass(frozen=True)
class BuiltinProvider:
    """A provider id that works without any ``models.providers`` entry.

    ``key_required``: calls to ``base_url`` need a key (when the user points the id at
    another URL, such as a proxy, a missing key is their business).
    """

    id: str
    api: Api
    base_url: str | None
    key_env: str | None
    key_required: bool


BUILTIN_PROVIDERS: Final[Mapping[str, BuiltinProvider]] = {
    "offline": BuiltinProvider("offline", "offline", None, None, False),
    "openai": BuiltinProvider("openai", "openai-completions", "https://api.openai.com/v1",
                              "OPENAI_API_KEY", True),
    "anthropic": BuiltinProvider("anthropic", "anthropic-messages", "https://api.anthropic.com",
                                 "ANTHROPIC_API_KEY", True),
    "ollama": BuiltinProvider("ollama", "openai-completions", "http://127.0.0.1:11434/v1",
                              None, False),
}


def parse_model_ref(ref: str) -> tuple[str, str]:
    """Split ``"<provider>/<model>"`` at its first ``/`` (model names may hold more).

    Raises:
        ValueError: no ``/``, or an empty provider or model part.
    """
    provider_id, slash, model = ref.strip().partition("/")
    provider_id, model = provider_id.strip(), model.strip()
    if not slash or not provider_id or not model:
        raise ValueError(f'model {ref!r} must be "<provider>/<model>", '
                         'e.g. "openai/gpt-4o-mini" or "offline/echo"')
    return provider_id, model


def build_provider(provider_id: str, config: Config | ModelsConfig,
                   environ: Mapping[str, str], *,
                   transport: httpx.AsyncBaseTransport | None = None) -> Provider:
    """The provider ``provider_id`` as configured (``models.providers.<id>`` over the
    built-in defaults), with its key resolved from config or ``environ``.

    ``transport`` is handed to an HTTP provider (tests); by default each provider
    opens its own connection pool on first use.

    Raises:
        ValueError: an unknown id without ``api`` and ``baseUrl``, a base URL that
            is not http(s), settings for ``offline``, or no key where one is needed.
    """
    models = config.models if isinstance(config, Config) else config
    entry = models.providers.get(provider_id) or ModelProviderConfig()
    key_path = f"models.providers.{provider_id}"
    builtin = BUILTIN_PROVIDERS.get(provider_id)
    if builtin is not None and builtin.api == "offline":
        if provider_id in models.providers:
            raise ValueError(f"{key_path}: the offline provider takes no settings")
        from openclaw.agent.providers.offline import OfflineProvider

        return OfflineProvider(provider_id)
    api = entry.api or (builtin.api if builtin else None)
    base_url = entry.base_url or (builtin.base_url if builtin else None)
    if api is None or base_url is None:
        known = ", ".join(BUILTIN_PROVIDERS)
        raise ValueError(f"unknown model provider {provider_id!r}: set {key_path}.api and "
                         f"{key_path}.baseUrl, or use a built-in one ({known})")
    base_url = base_url.strip().rstrip("/")
    if not base_url.startswith(("https://", "http://")):
        raise ValueError(f"{key_path}.baseUrl: must be an http(s) URL, got {base_url!r}")
    api_key, key_source = _resolve_key(entry, builtin, environ)
    official = builtin is not None and base_url == builtin.base_url
    if api_key is None and builtin is not None and builtin.key_required and official:
        env = entry.api_key_env or builtin.key_env
        raise ValueError(f"no API key for {provider_id}: set {env} or {key_path}.apiKey")
    if api == "anthropic-messages":
        from openclaw.agent.providers.anthropic import AnthropicProvider

        return AnthropicProvider(provider_id, base_url, api_key, transport=transport,
                                 key_source=key_source)
    from openclaw.agent.providers.openai import OpenAIProvider

    return OpenAIProvider(provider_id, base_url, api_key, transport=transport,
                          key_source=key_source)


def _resolve_key(entry: ModelProviderConfig, builtin: BuiltinProvider | None,
                 environ: Mapping[str, str]) -> tuple[str | None, str]:
    """``(key, source)`` with source ``config``, ``env:NAME`` or ``none``."""
    if entry.api_key and entry.api_key.strip():
        return entry.api_key.strip(), "config"
    for name in (entry.api_key_env, builtin.key_env if builtin else None):
        if name:
            value = (environ.get(name) or "").strip()
            if value:
                return value, f"env:{name}"
    return None, "none"
