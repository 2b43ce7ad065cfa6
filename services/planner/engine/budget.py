"""Scripts that fit their scenes when spoken: at most `word_budget(duration)` words (about 2.5 a
second, see `adpipe.voices.WORDS_PER_SECOND_BUDGET`). A script a little over is trimmed as an
editor would, at a sentence's end where one is close; one far over is a problem for the model."""

from __future__ import annotations

from adpipe.voices import WORDS_PER_SECOND_BUDGET, word_budget

# Up to this share over the budget a script is trimmed; beyond, the model is asked again (its
# script would lose too much of what it meant to say).
TRIM_FRACTION = 0.3
_SENTENCE_END = (".", "!", "?", "…")

__all__ = ["TRIM_FRACTION", "WORDS_PER_SECOND_BUDGET", "over_budget", "trim", "word_budget"]


def over_budget(script: str, duration: float) -> int:
    """How many words too many `script` has for a scene of `duration` seconds (0 if it fits)."""
    return max(0, len(script.split()) - word_budget(duration))


def trim(script: str, duration: float) -> str:
    """`script` cut to the budget: after the last full sentence that fits if that keeps at least
    half the budget, else after the last word that fits, ending with a full stop."""
    words = script.split()
    budget = word_budget(duration)
    if len(words) <= budget:
        return script
    kept = words[:budget]
    ends = [i for i, w in enumerate(kept) if w.endswith(_SENTENCE_END)]
    if ends and ends[-1] + 1 >= budget / 2:
        return " ".join(kept[: ends[-1] + 1])
    text = " ".join(kept).rstrip(",;:-–—")
    return text if text.endswith(_SENTENCE_END) else text + "."
