"""The progress protocol (ephemerides.progress): stages report to a callable or to nobody; the
command line's renderer writes one line per tenth in a log and tqdm bars on a terminal."""

import io

from ephemerides.progress import ConsoleProgress, Update, message, stage


class Terminal(io.StringIO):
    def isatty(self):
        return True


def test_a_stage_reports_its_start_each_step_and_its_end_once():
    reports = []
    with stage(reports.append, "search", 3, "hypotheses") as bar:
        for done in range(1, 4):
            bar.update(done, f"{done} found")
        bar.close()
    assert reports == [Update("search", 0, 3, "hypotheses"),
                       *(Update("search", k, 3, "hypotheses", f"{k} found") for k in (1, 2, 3)),
                       Update("search", 3, 3, "hypotheses", "3 found", finished=True)]
    # A message is one report.
    message(reports.append, "night", "12 associated")
    assert reports[-1] == Update("night", message="12 associated")


def test_nobody_listening_costs_nothing():
    with stage(None, "search", 3) as bar:
        bar.update(2)
    message(None, "night", "nothing")  # no error, nothing to call


def test_log_gets_one_line_per_tenth_and_the_messages():
    stream = io.StringIO()
    console = ConsoleProgress("sso link", stream=stream)
    with stage(console, "heliolinc", 25, "hypotheses") as bar:
        for done in range(1, 26):
            bar.update(done, f"{done} found")
    message(console, "link", "search: 4 candidates")
    lines = stream.getvalue().splitlines()
    # 25 steps cross the tenths 1..10 at 3, 5, 8, 10, 13, 15, 18, 20, 23, 25; the end adds none.
    assert len(lines) == 11
    assert lines[0] == "sso link: heliolinc: 3/25 hypotheses, 3 found"
    assert lines[9] == "sso link: heliolinc: 25/25 hypotheses, 25 found"
    assert lines[10] == "sso link: search: 4 candidates"


def test_log_of_an_unknown_total_is_its_last_line():
    stream = io.StringIO()
    console = ConsoleProgress(stream=stream)
    with stage(console, "download", None, "bytes") as bar:
        for done in (100, 200, 300):
            bar.update(done)
    assert stream.getvalue() == "download: 300 bytes\n"


def test_empty_work_is_complete():
    stream = io.StringIO()
    with stage(ConsoleProgress(stream=stream), "none", 0, "items"):
        pass
    assert stream.getvalue() == "none: 0/0 items\n"


def test_terminal_draws_a_tqdm_bar_and_messages_above_it():
    stream = Terminal()
    console = ConsoleProgress("sso night 2025-11-21", stream=stream)
    with stage(console, "orbit fits", 4, "candidates") as bar:
        for done in range(1, 5):
            bar.update(done, f"{done} linkages")
        message(console, "night", "12 associated")
    text = stream.getvalue()
    assert "\r" in text  # redrawn in place
    assert "sso night 2025-11-21: orbit fits: 100%" in text and "4/4" in text
    assert "4 linkages" in text
    assert "sso night 2025-11-21: 12 associated\n" in text
    assert text.endswith("\n") and not console.bars  # the bar closed with its stage
