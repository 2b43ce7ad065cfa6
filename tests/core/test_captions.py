"""Captions from word timings: property tests of the cue rules, and SRT/WebVTT that parse back
to the same cues."""

from __future__ import annotations

import datetime
import html
import itertools

import pytest
import srt
import webvtt
from hypothesis import given, settings
from hypothesis import strategies as st

from adpipe.captions import Cue, SceneWords, build_cues, estimate_words, to_srt, to_vtt
from adpipe.events.narration import WordTiming

WORDS = st.text(
    alphabet=st.sampled_from("abcdefghijklmnopqrstuvwxyzéABC0123456789&<>.,!?-'"),
    min_size=1,
    max_size=14,
)


@st.composite
def scene_lists(draw: st.DrawFn) -> list[SceneWords]:
    scenes = []
    at = 0.0
    for _ in range(draw(st.integers(1, 7))):
        duration = draw(st.floats(0.5, 15.0))
        words = draw(st.lists(WORDS, max_size=25))
        script = " ".join(words)
        kind = draw(st.sampled_from(["spoken", "estimated", "stale", "overlong"]))
        offset = draw(st.floats(0.0, 1.0))
        if kind == "spoken":  # monotonic timings within the scene, zero-length words included
            cuts = sorted(
                draw(
                    st.lists(
                        st.floats(0, duration), min_size=2 * len(words), max_size=2 * len(words)
                    )
                )
            )
            timed = [
                WordTiming(word=w, start=cuts[2 * i], end=cuts[2 * i + 1])
                for i, w in enumerate(words)
            ]
        elif kind == "overlong":  # a narration running past the scene's end
            step = draw(st.floats(0.1, 2.0))
            timed = [
                WordTiming(word=w, start=i * step, end=i * step + step * 0.8)
                for i, w in enumerate(words)
            ]
        elif kind == "estimated":
            timed, offset = estimate_words(script, duration), 0.0
        else:  # timings of some other text
            timed = [WordTiming(word="other", start=0.0, end=0.5)]
        scenes.append(
            SceneWords(
                scene_start=at, scene_duration=duration, offset=offset, words=timed, script=script
            )
        )
        at += duration
    return scenes


@settings(max_examples=300, deadline=None)
@given(scene_lists(), st.integers(2, 9), st.integers(12, 60))
def test_cues_are_ordered_apart_inside_their_scenes_and_say_the_script(
    scenes: list[SceneWords], max_words: int, max_chars: int
) -> None:
    cues = build_cues(scenes, max_words=max_words, max_chars=max_chars)

    assert " ".join(c.text for c in cues).split() == " ".join(s.script for s in scenes).split()
    for earlier, later in itertools.pairwise(cues):
        assert earlier.end <= later.start
    for cue in cues:
        assert cue.start < cue.end
        home = [
            s
            for s in scenes
            if s.scene_start - 1e-6 <= cue.start < s.scene_start + s.scene_duration - 1e-6
        ]
        assert home, cue
        scene = home[-1]
        assert cue.end <= scene.scene_start + scene.scene_duration + 1e-6
        assert set(cue.text.split()) <= set(scene.script.split())
    # Each scene's cues carry exactly its own words.
    for scene in scenes:
        inside = [
            c
            for c in cues
            if scene.scene_start - 1e-6 <= c.start < scene.scene_start + scene.scene_duration - 1e-6
        ]
        assert " ".join(c.text for c in inside).split() == scene.script.split()


def test_a_phrase_appears_when_its_first_word_is_spoken() -> None:
    script = "Fitness tracking. Message alerts. Music control. All in one."
    words = [
        WordTiming(word=w, start=s, end=e)
        for w, s, e in [
            ("Fitness", 0.0, 0.4),
            ("tracking.", 0.4, 0.9),
            ("Message", 1.3, 1.7),
            ("alerts.", 1.7, 2.2),
            ("Music", 2.6, 2.9),
            ("control.", 2.9, 3.4),
            ("All", 3.8, 4.0),
            ("in", 4.0, 4.1),
            ("one.", 4.1, 4.5),
        ]
    ]
    cues = build_cues(
        [SceneWords(scene_start=14.0, scene_duration=10.0, offset=0.15, words=words, script=script)]
    )

    assert [c.text for c in cues] == [
        "Fitness tracking.",
        "Message alerts.",
        "Music control.",
        "All in one.",
    ]
    assert [c.start for c in cues] == [14.15, 15.45, 16.75, 17.95]
    assert [c.end for c in cues] == [15.45, 16.75, 17.95, 20.15]  # the last holds 1.5 s


def test_long_sentences_are_cut_at_the_word_limits() -> None:
    script = "one two three four five six seven eight nine ten eleven"
    cues = build_cues(
        [
            SceneWords(
                scene_start=0,
                scene_duration=8,
                offset=0,
                words=estimate_words(script, 8),
                script=script,
            )
        ],
        max_words=4,
    )
    assert [c.text for c in cues] == [
        "one two three four",
        "five six seven eight",
        "nine ten eleven",
    ]


def test_an_empty_script_has_no_cue() -> None:
    assert (
        build_cues([SceneWords(scene_start=0, scene_duration=5, offset=0, words=[], script="  ")])
        == []
    )


def test_estimated_words_fit_the_scene() -> None:
    words = estimate_words("Buy Now at SmartWatch.com", 6.0)
    assert [w.word for w in words] == ["Buy", "Now", "at", "SmartWatch.com"]
    assert 0 < words[0].start and words[-1].end <= 6.0
    squeezed = estimate_words(" ".join(["word"] * 40), 2.0)
    assert squeezed[-1].end <= 2.0


CUES = [
    Cue(1.5, 2.25, "Fish & chips <now>"),
    Cue(2.25, 4.0, "Buy Now at SmartWatch.com"),
    Cue(3661.001, 3662.5, "an hour later"),
]


def test_srt_parses_back_to_the_same_cues() -> None:
    parsed = list(srt.parse(to_srt(CUES)))
    assert [(s.start, s.end, s.content) for s in parsed] == [
        (datetime.timedelta(seconds=c.start), datetime.timedelta(seconds=c.end), c.text)
        for c in CUES
    ]
    assert [s.index for s in parsed] == [1, 2, 3]


def test_webvtt_parses_back_to_the_same_cues() -> None:
    text = to_vtt(CUES)
    assert text.startswith("WEBVTT")
    assert "&amp;" in text and "&lt;now&gt;" in text
    parsed = webvtt.from_string(text)
    assert [(c.start, c.end) for c in parsed] == [
        ("00:00:01.500", "00:00:02.250"),
        ("00:00:02.250", "00:00:04.000"),
        ("01:01:01.001", "01:01:02.500"),
    ]
    assert [html.unescape(c.text) for c in parsed] == [c.text for c in CUES]


@pytest.mark.parametrize("render", [to_srt, to_vtt])
def test_no_cues_still_make_a_valid_file(render: object) -> None:
    assert callable(render)
    text = render([])
    assert text == "" or text.startswith("WEBVTT")
