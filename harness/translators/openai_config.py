"""Config of ``backend: openai``: a model behind an OpenAI-compatible chat-completions API.

Hosted APIs (OpenAI, and Gemini/Claude/... through their OpenAI-compatible endpoints) and local
servers (vLLM, SGLang, TGI, llama.cpp) all take the same requests, so one config covers them.
The key itself never appears here: ``api_key_env`` names the environment variable holding it.
"""

from __future__ import annotations

from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, field_validator

from harness.configbase import StrictModel
from harness.translators.prompt_config import PromptConfig

OPENAI_API_URL = "https://api.openai.com/v1"


class TokenPrices(StrictModel):
    """Prices in the API's currency (normally US dollars) per million tokens."""

    input: float = Field(ge=0)
    output: float = Field(ge=0)


class OpenAIModelConfig(StrictModel):
    """A model reached over HTTP through the official ``openai`` client (chat completions)."""

    backend: Literal["openai"]
    name: str | None = None  # label in run folders and tables; defaults to the model name
    model: str = Field(min_length=1)  # the model name the server expects
    base_url: str = OPENAI_API_URL
    # The NAME of an environment variable holding the key; None for servers without auth
    # (a local vLLM started without --api-key).
    api_key_env: str | None = Field(default="OPENAI_API_KEY", pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    max_concurrency: int = Field(default=32, gt=0, le=1024)  # requests in flight
    requests_per_minute: float | None = Field(default=None, gt=0)  # client-side rate limit
    timeout_s: float = Field(default=120, gt=0)
    # On 408/409/429/5xx, timeouts, dropped connections and malformed answers.
    max_retries: int = Field(default=6, ge=0, le=100)
    temperature: float = Field(default=0, ge=0, le=2)
    seed: int | None = None
    max_new_tokens: int = Field(default=512, gt=0)
    prompt: PromptConfig = PromptConfig()
    price_per_million_tokens: TokenPrices | None = None

    @property
    def label(self) -> str:
        return self.name or self.model

    @field_validator("base_url")
    @classmethod
    def _check_base_url(cls, value: str) -> str:
        check_base_url(value)
        return value.rstrip("/")


def check_base_url(url: str) -> None:
    """Raise ValueError unless ``url`` is an http(s) URL with a host and no credentials in it.

    Credentials in the URL (``user:pass@``, ``?key=``) would be saved with the resolved config
    and the results; they belong in the environment variable that ``api_key_env`` names.
    """
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError as e:
        raise ValueError(f"base_url {url!r} is not a valid URL ({e})") from e
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(
            f"base_url {url!r} must be an http:// or https:// URL with a host, "
            "e.g. http://localhost:8000/v1"
        )
    if parts.username is not None or parts.password is not None or parts.query or parts.fragment:
        raise ValueError(
            "base_url must not carry credentials, a query or a fragment; put the key in the "
            "environment variable named by api_key_env"
        )


def endpoint_of(url: str) -> str:
    """``https://api.openai.com/v1/`` -> ``api.openai.com/v1``: host (with port) and path, the
    part of the URL that says which server answers (the scheme does not change the model)."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    port = f":{parts.port}" if parts.port is not None else ""
    return f"{host}{port}{parts.path.rstrip('/')}"
