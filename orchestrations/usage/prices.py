"""The price of a model call: a price table per model, per million tokens, and the cost of a call.

`DEFAULT_PRICES` holds the models our infrastructure deploys (infra/main.bicep) at the price of their
Global Standard deployment, each with its source and the date it was read. `MODEL_PRICES` (a setting, JSON)
adds or replaces entries: `{"<model or deployment name>": {"input": 0.4, "cached_input": 0.1, "output": 1.6,
"currency": "USD"}}`, prices per million tokens. A model name is looked up as given, lower-cased, then by the
longest table entry it starts with (`gpt-4.1-mini-2025-04-14` is priced as `gpt-4.1-mini`). On Azure the name a
call uses is the deployment's: name the deployment in `MODEL_PRICES` when it is not the model's name.

Cost of a call (OpenAI's usage semantics, the same in both APIs: cached tokens are part of the input tokens,
reasoning tokens part of the output tokens): (input - cached) x input + cached x cached_input + output x output,
over a million. A model with no price is counted in tokens only, and the job's usage says so.
"""
from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)

PRICES_SETTING = "MODEL_PRICES"
TOKENS_PER_PRICE = 1_000_000


@dataclass(frozen=True)
class Price:
    """Per million tokens, in `currency`; `source` says where the figures come from and when they were read."""

    input: float
    cached_input: float
    output: float
    currency: str = "USD"
    source: str = f"the {PRICES_SETTING} setting"


DEFAULT_PRICES: dict[str, Price] = {
    # infra/main.bicep's default model (AZURE_OPENAI_MODEL), Global Standard: Azure's token prices for the GPT-5.4
    # family are OpenAI's (aicosthub.com/guides/azure-openai-pricing-2026, "last verified 2026-04-01": GPT-5.4 mini
    # $0.75 input, $4.50 output per 1M tokens); cached input is 90 % off the input price, $0.075
    # (verdent.ai/guides/gpt-5-4-mini-api-developers, "verified against OpenAI's official documentation as of
    # June 2026").
    "gpt-5.4-mini": Price(0.75, 0.075, 4.50, "USD",
                          "aicosthub.com/guides/azure-openai-pricing-2026 (verified 2026-04-01); cached input: "
                          "verdent.ai/guides/gpt-5-4-mini-api-developers (June 2026)"),
    # the default of earlier versions of infra/main.bicep (deployments made with them), version 2025-04-14, Global:
    # $0.40 input, $0.10 cached input, $1.60 output per 1M tokens (explore.oreate.ai/posts/breaking-down-gpt41-
    # pricing-on-azure-openai-service; input and output cross-checked in Sraleik/undetermini PRICING.md, "verified
    # 2026-05-07").
    "gpt-4.1-mini": Price(0.40, 0.10, 1.60, "USD",
                          "explore.oreate.ai (Azure OpenAI GPT-4.1 series Global); Sraleik/undetermini PRICING.md "
                          "(verified 2026-05-07)"),
}


def _price(name: str, entry: Any) -> Price:
    if not isinstance(entry, dict):
        raise ValueError(f"the entry of {name!r} must be an object with input, cached_input and output")
    unknown = set(entry) - {"input", "cached_input", "output", "currency"}
    if unknown:
        raise ValueError(f"the entry of {name!r} has unknown fields {sorted(unknown)}; allowed: input, cached_input, "
                         f"output, currency")
    values = {}
    for field in ("input", "cached_input", "output"):
        value = entry.get(field, entry.get("input") if field == "cached_input" else None)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            raise ValueError(f"{name!r}: {field} must be a number of at least 0 (per million tokens), not {value!r}")
        values[field] = float(value)
    currency = entry.get("currency", "USD")
    if not isinstance(currency, str) or not currency.strip() or len(currency) > 10:
        raise ValueError(f"{name!r}: currency must be a short code such as USD, not {currency!r}")
    return Price(values["input"], values["cached_input"], values["output"], currency.strip().upper())


def load_prices(raw: str | None) -> tuple[dict[str, Price], str | None]:
    """The price table with `raw` (the setting's JSON text, or None) over the defaults, and the problem that
    made the setting unusable (then the defaults alone are used)."""
    table = dict(DEFAULT_PRICES)
    if not raw or not raw.strip():
        return table, None
    try:
        entries = json.loads(raw)
        if not isinstance(entries, dict):
            raise ValueError("it must be a JSON object of model names")
        table.update({str(name).strip().lower(): _price(str(name), entry) for name, entry in entries.items()})
    except ValueError as error:
        problem = f"{PRICES_SETTING} is not used: {error}"
        log.error("%s", problem)
        return dict(DEFAULT_PRICES), problem
    return table, None


PRICES, PRICES_PROBLEM = load_prices(os.environ.get(PRICES_SETTING))


def price_for(model: str | None, table: dict[str, Price] | None = None) -> Price | None:
    """The price of `model` (exact name, else the longest entry it starts with), or None."""
    table = PRICES if table is None else table
    name = (model or "").strip().lower()
    if not name:
        return None
    if name in table:
        return table[name]
    matches = [key for key in table if name.startswith(key)]
    return table[max(matches, key=len)] if matches else None


def cost(price: Price, input_tokens: int, cached_tokens: int, output_tokens: int) -> float:
    """The cost of a call in `price.currency` (see the module docstring)."""
    cached = min(cached_tokens, input_tokens)
    return ((input_tokens - cached) * price.input + cached * price.cached_input
            + output_tokens * price.output) / TOKENS_PER_PRICE
