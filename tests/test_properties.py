"""Random bytes and strings into every parser: they parse or raise BadInput, never anything else."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lingxi.errors import BadInput
from lingxi.ingest import FORMATS, parse_bytes

# Characters that steer the parsers into their interesting branches.
SPICY = list("0123456789:,.->\n\n  #{}%<>/[]()|*!\"'`\\\t\r，。？！首页相关阅读第期EPWEBVTT") + ["-->", "---\n", "{%", "%}", "00:12", "01:02:03", "<div>", "首页 > ", "相关阅读\n"]
texts = st.one_of(st.text(max_size=600), st.lists(st.sampled_from(SPICY), max_size=120).map("".join))
NAMES = ["x.md", "x.html", "x.srt", "x.vtt", "x.txt", "x.jsonl", "x"]


def check(data: bytes, name: str, fmt: str | None) -> None:
    try:
        _, notes = parse_bytes(data, name, fmt)
    except BadInput as e:
        assert str(e)
        return
    assert notes
    for n in notes:
        assert n.chunks
        for c in n.chunks:
            assert c.text.strip()
            if c.locator.char_start is not None:
                assert n.body[c.locator.char_start : c.locator.char_end] == c.text


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=texts, fmt=st.sampled_from([*FORMATS, None]), name=st.sampled_from(NAMES))
def test_random_text_parses_or_bad_input(text, fmt, name):
    check(text.encode("utf-8"), name, fmt)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.binary(max_size=800), fmt=st.sampled_from([*FORMATS, None]), name=st.sampled_from(NAMES))
def test_random_bytes_parse_or_bad_input(data, fmt, name):
    check(data, name, fmt)
