"""The stderr progress bar: one line per tenth in logs, redrawn in place on a terminal."""

import io

from ephemerides.progress import ProgressBar


class Terminal(io.StringIO):
    def isatty(self):
        return True


def test_log_gets_one_line_per_tenth():
    stream = io.StringIO()
    with ProgressBar(25, "search", "hypotheses", stream=stream) as bar:
        for done in range(1, 26):
            bar.update(done, f"{done} found")
    lines = stream.getvalue().splitlines()
    # 25 steps cross the tenths 1..10 at 3, 5, 8, 10, 13, 15, 18, 20, 23, 25.
    assert len(lines) == 10
    assert lines[0].startswith("search [" + "#" * 4 + "." * 26 + "] 3/25 hypotheses, 3 found (")
    assert lines[-1].startswith("search [" + "#" * 30 + "] 25/25 hypotheses, 25 found (")


def test_terminal_redraws_in_place_and_ends_the_line():
    stream = Terminal()
    bar = ProgressBar(4, "fit", "linkages", stream=stream)
    for done in range(1, 5):
        bar.update(done)
    bar.close()
    text = stream.getvalue()
    assert text.endswith("\n") and text.count("\n") == 1
    assert text.startswith("\rfit [")  # the first update draws; later ones within 0.2 s wait
    assert "\rfit [" + "#" * 30 + "] 4/4 linkages (" in text  # the last update always draws


def test_empty_work_is_complete():
    stream = io.StringIO()
    ProgressBar(0, "none", "items", stream=stream).update(0)
    assert stream.getvalue().startswith("none [" + "#" * 30 + "] 0/0 items")
