"""What a job costs: one small price table (`settings.prices`) behind dry-run and real costs.

- Planning: the built-in planner costs `builtin_planning` per storyboard. An LLM storyboard is
  priced by its tokens through litellm's cost map when the model is in it, else the flat
  `llm_planning_estimate`. litellm is imported lazily, only when a model is configured.
- Rendering: `render_per_second[resolution]` per second of output video.
- Storage: `storage_per_gb` per GB (10^9 bytes) stored, charged once when the bytes land — for a
  job, the assets it downloads from URLs; an asset uploaded or fetched on its own is charged there.
- Voiceover: a cloud voice costs `tts_per_character` per character of script spoken, every time a
  scene is narrated (an edited script is spoken again); the offline engine costs nothing.

Dry-run estimates use the same functions; where sizes or token counts are not known yet they
use the typical figures below.
"""

from __future__ import annotations

import functools
import logging
import os
from typing import TYPE_CHECKING

import msgspec

from adpipe.domain.storyboard import MAX_SCENES, MIN_SCENES
from adpipe.voices import WORDS_PER_SECOND_BUDGET

if TYPE_CHECKING:
    from adpipe.settings import Prices

log = logging.getLogger(__name__)

GB = 1_000_000_000

# A storyboard prompt (brief, assets, rules) and its JSON answer, measured on the seed's example.
TYPICAL_PROMPT_TOKENS = 1200
TYPICAL_COMPLETION_TOKENS = 900
# Typical sizes of downloaded ad material, for estimates made before anything is downloaded.
TYPICAL_ASSET_BYTES = {"image": 2_000_000, "video": 40_000_000, "audio": 5_000_000}
# Characters per word of ad copy, spaces and punctuation included: the seed's four scripts have
# 149 characters in 25 words.
TYPICAL_CHARACTERS_PER_WORD = 6


class CostBreakdown(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    planning: float = 0.0
    rendering: float = 0.0
    storage: float = 0.0
    voiceover: float = 0.0


class CostEstimate(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    total: float
    currency: str
    breakdown: CostBreakdown


def _money(value: float) -> float:
    return round(value, 6)


def render_cost(resolution: str, seconds: float, prices: Prices) -> float:
    """Rendering `seconds` of output video at `resolution` ("720p", "1080p")."""
    try:
        per_second = prices.render_per_second[resolution]
    except KeyError:
        raise ValueError(f"no rendering price for resolution {resolution!r}") from None
    return _money(per_second * max(0.0, seconds))


def storage_cost(size_bytes: int, prices: Prices) -> float:
    """Storing `size_bytes` once."""
    return _money(prices.storage_per_gb * max(0, size_bytes) / GB)


def voiceover_cost(characters: int, cloud: bool, prices: Prices) -> float:
    """Speaking `characters` of script once: a cloud voice's price, nothing offline."""
    return _money(prices.tts_per_character * max(0, characters)) if cloud else 0.0


def typical_script_characters(duration_seconds: float) -> int:
    """The characters of a storyboard's scripts when they fill the planners' word budget."""
    words = WORDS_PER_SECOND_BUDGET * max(0.0, duration_seconds)
    return round(words * TYPICAL_CHARACTERS_PER_WORD)


def planning_cost(
    model: str | None, prompt_tokens: int, completion_tokens: int, prices: Prices
) -> float:
    """One planner call: the built-in price without a model, else the model's token price."""
    if model is None:
        return _money(prices.builtin_planning)
    per_token = _token_prices(model)
    if per_token is None:
        return _money(prices.llm_planning_estimate)
    prompt_price, completion_price = per_token
    return _money(prompt_tokens * prompt_price + completion_tokens * completion_price)


@functools.lru_cache(maxsize=32)
def _token_prices(model: str) -> tuple[float, float] | None:
    """(USD per prompt token, per completion token) from litellm's bundled cost map."""
    # Never fetch the price map from the internet: use the copy shipped with litellm.
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    try:
        import litellm

        litellm.suppress_debug_info = True  # it prints a provider list for unknown models
        prompt, completion = litellm.cost_per_token(
            model=model, prompt_tokens=1_000_000, completion_tokens=1_000_000
        )
    except Exception as exc:  # an unknown model is normal (local servers, fine-tunes)
        log.debug("no litellm price for %s: %s", model, exc)
        return None
    return float(prompt) / 1_000_000, float(completion) / 1_000_000


def estimate_job(
    *,
    duration_seconds: float,
    resolution: str,
    url_asset_types: list[str],
    model: str | None,
    prices: Prices,
    voiceover: bool = False,
    cloud_voice: bool = False,
) -> CostEstimate:
    """A job's expected cost before anything runs: one storyboard, its narration once (scripts
    filling the word budget), the render, the downloads."""
    planning = planning_cost(model, TYPICAL_PROMPT_TOKENS, TYPICAL_COMPLETION_TOKENS, prices)
    rendering = render_cost(resolution, duration_seconds, prices)
    download_bytes = sum(TYPICAL_ASSET_BYTES.get(t, 0) for t in url_asset_types)
    storage = storage_cost(download_bytes, prices)
    speech = (
        voiceover_cost(typical_script_characters(duration_seconds), cloud_voice, prices)
        if voiceover
        else 0.0
    )
    return CostEstimate(
        total=_money(planning + rendering + storage + speech),
        currency=prices.currency,
        breakdown=CostBreakdown(
            planning=planning, rendering=rendering, storage=storage, voiceover=speech
        ),
    )


def scene_count_range(duration_seconds: float) -> tuple[int, int]:
    """How many scenes a storyboard of this length may have (every scene at least 2 s)."""
    most = max(MIN_SCENES, min(MAX_SCENES, int(duration_seconds // 2.0)))
    return MIN_SCENES, most
