"""Tests of shiftlab.lesson: quick mode, lesson sizes, progress bars and the quiet environment for machines."""

import pytest

import shiftlab
from shiftlab import lesson


@pytest.mark.parametrize("value,quick", [("1", True), ("0", False), ("", False), ("yes", False)])
def test_quick_mode(monkeypatch, value, quick):
    monkeypatch.setenv(lesson.QUICK_ENV, value)
    assert shiftlab.quick_mode() is quick
    assert lesson.lesson_size(1017, 200) == (200 if quick else 1017)


def test_quick_mode_is_off_by_default(monkeypatch):
    monkeypatch.delenv(lesson.QUICK_ENV, raising=False)
    assert not shiftlab.quick_mode()
    assert lesson.lesson_size("full", "quick") == "full"


@pytest.mark.parametrize("env,enabled,shown", [("", True, True), ("", False, False), ("1", True, False), ("true", True, False), ("0", True, True)])
def test_progress_bar_honours_enabled_and_tqdm_disable(monkeypatch, env, enabled, shown):
    monkeypatch.setenv(lesson.PROGRESS_OFF_ENV, env)
    bar = lesson.progress_bar(range(3), enabled=enabled, desc="test")
    assert bar.disable is not shown
    assert list(bar) == [0, 1, 2]


def test_tqdm_disable_silences_a_sweep(monkeypatch, capsys, baseline, subset):
    """nbgrader_config.py and the solution builder set TQDM_DISABLE; a sweep must then print no bar."""
    images, labels = subset
    monkeypatch.setenv(lesson.PROGRESS_OFF_ENV, "1")
    shiftlab.translation_sweep(baseline, images[:8], labels[:8], dxs=[0, 1], dys=[0], progress=True)
    captured = capsys.readouterr()
    assert captured.err == "" and captured.out == ""
    monkeypatch.setenv(lesson.PROGRESS_OFF_ENV, "0")
    shiftlab.translation_sweep(baseline, images[:8], labels[:8], dxs=[0, 1], dys=[0], progress=True)
    assert "sweep" in capsys.readouterr().err


def test_the_switches_are_named_as_tqdm_and_the_course_expect():
    assert lesson.QUICK_ENV == "SHIFTLAB_QUICK"
    assert lesson.PROGRESS_OFF_ENV == "TQDM_DISABLE"  # tqdm reads this variable itself


@pytest.mark.parametrize("quick", [True, False])
def test_quiet_environment_switches_bars_off_and_sets_quick_mode(monkeypatch, quick):
    environment = lesson.quiet_environment(quick)
    assert environment == {lesson.QUICK_ENV: "1" if quick else "0", lesson.PROGRESS_OFF_ENV: "1"}
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    assert shiftlab.quick_mode() is quick
    assert lesson.progress_bar(range(3)).disable


def test_require_passes_when_the_names_exist():
    lesson.require({"errors": {}, "sizes": []}, "errors", "sizes", exercise="Exercise 3")


def test_require_stops_with_one_line_naming_what_is_missing_and_the_exercise():
    with pytest.raises(lesson.LessonStop) as stop:
        lesson.require({"errors": {}}, "errors", "sizes", exercise="Exercise 3 (flip_error)")
    assert str(stop.value) == ("this cell needs sizes from Exercise 3 (flip_error): "
                               "do that exercise and run its cells first")
    assert stop.value._render_traceback_() == [f"LessonStop: {stop.value}"]


def test_a_lesson_stop_shows_as_one_line_in_ipython(capsys):
    """IPython renders the exception with _render_traceback_: one line, no traceback frames."""
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    result = shell.run_cell("import shiftlab as sl\nsl.require({}, 'errors', exercise='Exercise 3')")
    assert isinstance(result.error_in_exec, lesson.LessonStop)
    shown = capsys.readouterr().out.strip()
    assert shown == "LessonStop: this cell needs errors from Exercise 3: do that exercise and run its cells first"
