"""The pure parts of the render engine: transition labels, the frame timeline, Ken Burns paths."""

from __future__ import annotations

import itertools
from collections.abc import Callable

import pytest

from adpipe.events.scene import Scene
from adpipe.services.renderer.engine import frame_size, parse_transition
from adpipe.services.renderer.engine.motion import ZOOM_HEADROOM, KenBurns, choose_path
from adpipe.services.renderer.engine.timeline import plan_timeline
from adpipe.services.renderer.engine.transitions import FALLBACK_ENTRY

MakeScene = Callable[..., Scene]


@pytest.mark.parametrize(
    ("label", "entry", "fade_out", "fast_cuts"),
    [
        ("Fade in", "fade_in", False, False),
        ("fade-in from black", "fade_in", False, False),
        ("Cut", "cut", False, False),
        ("Hard cut", "cut", False, False),
        ("Fast cuts", "cut", False, True),
        ("Quick cuts", "cut", False, True),
        ("Fade out", "cut", True, False),
        ("Fade to black", "cut", True, False),
        ("Dip to black", "dip", False, False),
        ("dissolve", "crossfade", False, False),
        ("Crossfade", "crossfade", False, False),
        ("cross-fade", "crossfade", False, False),
        ("Fade", "crossfade", False, False),
        ("Fade in, fade out", "fade_in", True, False),
        ("Fast cuts with a crossfade", "crossfade", False, True),
        ("wipe left", "wipe", False, False),
        ("Slide", "slide", False, False),
        ("push right", "slide", False, False),
    ],
)
def test_transition_labels_map_onto_supported_transitions(
    label: str, entry: str, fade_out: bool, fast_cuts: bool
) -> None:
    transition = parse_transition(label)
    assert (transition.entry, transition.fade_out, transition.fast_cuts) == (
        entry,
        fade_out,
        fast_cuts,
    )


@pytest.mark.parametrize("label", ["", "Whip pan", "Zoom transition", "🎬", "Match cut on action"])
def test_unknown_transition_labels_fall_back_to_a_cut(label: str) -> None:
    assert FALLBACK_ENTRY == "cut"
    transition = parse_transition(label)
    assert transition.entry == "cut"
    assert not transition.fade_out


@pytest.mark.parametrize(
    ("label", "direction"),
    [
        ("wipe left", "left"),
        ("Wipe Right", "right"),
        ("slide up", "up"),
        ("slide", "left"),
    ],
)
def test_wipe_and_slide_directions(label: str, direction: str) -> None:
    assert parse_transition(label).direction == direction


@pytest.mark.parametrize(
    ("aspect", "resolution", "size"),
    [
        ("16:9", "720p", (1280, 720)),
        ("9:16", "720p", (720, 1280)),
        ("1:1", "720p", (720, 720)),
        ("16:9", "1080p", (1920, 1080)),
        ("9:16", "1080p", (1080, 1920)),
        ("1:1", "1080p", (1080, 1080)),
    ],
)
def test_frame_sizes(aspect: str, resolution: str, size: tuple[int, int]) -> None:
    assert frame_size(aspect, resolution) == size  # type: ignore[arg-type]


def test_transitions_never_change_the_total_length(scene: MakeScene) -> None:
    scenes = [
        scene(6, ["v"], transition="Fade in"),
        scene(8, ["i"], transition="Crossfade"),
        scene(10, ["v", "i"], transition="Wipe left"),
        scene(6, ["i"], transition="Fade out"),
    ]
    timeline = plan_timeline(scenes, {"v", "i"}, 30)

    assert timeline.total_frames == 900
    first, second, third, last = timeline.slots
    assert (first.start, second.start, third.start, last.start, last.end) == (0, 180, 420, 720, 900)
    # a crossfade is centred on the boundary and both scenes are on screen during it
    assert second.show_from < 180 < first.show_until == second.enter_until
    assert [s.index for s in timeline.visible(180)] == [0, 1]
    assert [s.index for s in timeline.visible(100)] == [0]
    assert first.fade_in > 0 and last.fade_out > 0
    assert first.brightness(0) == 0.0 and last.brightness(899) == 0.0
    assert second.brightness(300) == 1.0


def test_at_most_two_scenes_are_on_screen_even_when_short(scene: MakeScene) -> None:
    scenes = [scene(0.2, ["i"], transition="Crossfade") for _ in range(6)]
    timeline = plan_timeline(scenes, {"i"}, 30)
    for frame in range(timeline.total_frames):
        assert 1 <= len(timeline.visible(frame)) <= 2


def test_a_soft_entry_on_the_first_scene_fades_in_from_black(scene: MakeScene) -> None:
    timeline = plan_timeline([scene(2, ["i"], transition="Crossfade")], {"i"}, 30)
    assert timeline.slots[0].entry == "fade_in"
    assert timeline.slots[0].show_from == 0


def test_dip_to_black_fades_out_the_previous_scene_and_in_the_next(scene: MakeScene) -> None:
    scenes = [scene(2, ["i"]), scene(2, ["i"], transition="Dip to black")]
    first, second = plan_timeline(scenes, {"i"}, 30).slots
    assert first.brightness(59) == 0.0 and second.brightness(60) == 0.0
    assert first.show_until == 60 == second.show_from


def test_fast_cuts_split_a_montage_about_every_second(scene: MakeScene) -> None:
    timeline = plan_timeline([scene(10, ["v", "i"], transition="Fast cuts")], {"v", "i"}, 30)
    segments = timeline.slots[0].segments
    assert len(segments) == 10
    assert [s.asset for s in segments[:4]] == [0, 1, 0, 1]
    assert segments[0].start == 0 and segments[-1].end == 300


def test_audio_assets_are_not_drawn(scene: MakeScene) -> None:
    timeline = plan_timeline([scene(2, ["music", "i"])], {"i"}, 30)
    assert timeline.slots[0].visuals == ("i",)


@pytest.mark.parametrize("variant", range(5))
@pytest.mark.parametrize("frame", [(1280, 720), (720, 1280), (720, 720)])
def test_ken_burns_stays_inside_the_picture_and_moves_smoothly(
    variant: int, frame: tuple[int, int]
) -> None:
    # a wide picture scaled to cover the frame with zoom headroom, as the engine prepares it
    source = (round(frame[0] * ZOOM_HEADROOM * 1.5), round(frame[1] * ZOOM_HEADROOM))
    path = KenBurns(source, frame, choose_path("medium", variant), 180, 30)
    windows = [path.window(i) for i in range(180)]
    for index, (x, y, w, h) in enumerate(windows):
        assert 0 <= x and x + w <= source[0] and 0 <= y and y + h <= source[1]
        assert w >= frame[0] and h >= frame[1]  # never enlarged
        assert w / h == pytest.approx(frame[0] / frame[1])
        crop = path.crop(index)
        assert 0 <= crop.x and crop.x + crop.w <= source[0]
        assert 0 <= crop.y and crop.y + crop.h <= source[1]
        assert crop.off_x + frame[0] <= crop.scaled_w and crop.off_y + frame[1] <= crop.scaled_h
        # whole-pixel crop + scale + offset lands within half a pixel of the exact window
        step_x, step_y = crop.w / crop.scaled_w, crop.h / crop.scaled_h
        assert abs(crop.x + crop.off_x * step_x - x) / step_x < 0.5
        assert abs(crop.y + crop.off_y * step_y - y) / step_y < 0.5
        assert abs(step_x * frame[0] - w) / step_x < 1.0
    assert windows[0] != windows[-1]  # it moves
    steps = [abs(a[0] - b[0]) + abs(a[2] - b[2]) for a, b in itertools.pairwise(windows)]
    assert max(steps) <= 4  # gently


def test_consecutive_scenes_move_differently() -> None:
    paths = {choose_path("medium", k) for k in range(5)}
    assert len(paths) == 5
    assert choose_path("Close-up", 0)[1].zoom > choose_path("Close-up", 0)[0].zoom  # pushes in
