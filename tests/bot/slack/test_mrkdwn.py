"""Untrusted text in Slack: escaping, clipping to limits without cutting entities, and safe link URLs."""

from __future__ import annotations

import re

import pytest

from bot.slack.mrkdwn import (
    ELLIPSIS,
    clean,
    clip,
    escape,
    escape_clip,
    escape_line,
    link,
    one_line,
    plain,
    safe_url,
)

HOSTILE = [
    "<!channel>",
    "<!here>",
    "<!everyone>",
    "<@U123>",
    "<#C1>",
    "<!subteam^S1>",
    "<https://evil.com|PostHog>",
]


@pytest.mark.parametrize("text", HOSTILE)
def test_escape_neutralises_slack_syntax(text):
    escaped = escape(text)
    assert "<" not in escaped
    assert ">" not in escaped
    assert escaped.startswith("&lt;")
    assert escaped.endswith("&gt;")


def test_escape_exact_output():
    assert escape("<!channel> & <@U123> <#C1> <https://evil.com|PostHog>") == (
        "&lt;!channel&gt; &amp; &lt;@U123&gt; &lt;#C1&gt; &lt;https://evil.com|PostHog&gt;"
    )


def test_ampersand_is_escaped_first_so_entities_are_not_double_decoded():
    assert escape("&lt;!channel&gt;") == "&amp;lt;!channel&amp;gt;"
    assert escape("AT&T") == "AT&amp;T"


def test_only_the_three_control_characters_are_touched():
    text = "*bold* _it_ ~s~ `code` > quote \"q\" 'a' é 🚀"
    assert escape(text) == text.replace(">", "&gt;")


def test_clean_drops_control_characters_but_keeps_newlines_and_tabs():
    assert clean("a\x00b\x07c\x1bd\x7fe\tf\ng\x80h\x9f") == "abcde\tf\ngh"


# Characters that change how text reads without being seen: bidirectional overrides, embeddings,
# isolates and marks, and zero-width characters.
BIDI = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c"
ZERO_WIDTH = "\u200b\u200c\u200d\u2060\ufeff"
LINE_BREAKS = "\n\r\u2028\u2029\u0085\t\x0b\x0c"


@pytest.mark.parametrize("char", list(BIDI + ZERO_WIDTH), ids=lambda c: f"U+{ord(c):04X}")
def test_bidi_and_zero_width_characters_are_removed_everywhere(char):
    text = f"moc.evil{char}acme.com"
    for out in (
        clean(text),
        one_line(text),
        escape_clip(text, 100),
        escape_line(text, 100),
        plain(text, 100),
    ):
        assert out == "moc.evilacme.com"


def test_a_right_to_left_override_cannot_reverse_a_name():
    assert escape_line("Invoice \u202egnp.exe", 100) == "Invoice gnp.exe"


@pytest.mark.parametrize("char", list(LINE_BREAKS), ids=lambda c: f"U+{ord(c):04X}")
def test_each_line_break_is_a_space_in_single_line_text(char):
    assert one_line(f"first{char}second") == "first second"
    assert escape_line(f"<b>{char}<i>", 100) == "&lt;b&gt; &lt;i&gt;"
    assert plain(f"first{char}second", 100) == "first second"


def test_runs_of_line_breaks_become_one_space():
    assert one_line("a\r\n\r\n\tb\u2028\u2029c") == "a b c"
    assert one_line("a\n\u200b\nb") == "a b"


def test_multi_line_text_keeps_its_lines_with_every_break_made_a_newline():
    text = "one\r\ntwo\u2028three\u2029four\u0085five\x0bsix\x0cseven\rend"
    assert clean(text) == "one\ntwo\nthree\nfour\nfive\nsix\nseven\nend"
    assert escape_clip("a <b>\n\u202ec", 100) == "a &lt;b&gt;\nc"


def test_escape_line_clips_after_escaping_like_escape_clip():
    assert escape_line("&\n&\n&", 6) == "&amp;…"
    assert len(escape_line("x\n" * 5000, 2000)) == 2000


# --- escape_clip ------------------------------------------------------------------------------------


def test_short_text_is_only_escaped():
    assert escape_clip("a & b", 100) == "a &amp; b"


@pytest.mark.parametrize("limit", range(1, 40))
def test_escape_clip_never_cuts_an_entity(limit):
    text = "&<>" * 20
    out = escape_clip(text, limit)
    assert len(out) <= limit
    assert out.endswith(ELLIPSIS)
    assert re.fullmatch(r"(?:&amp;|&lt;|&gt;)*…", out), out


def test_escape_clip_fits_the_limit_exactly_when_it_can():
    assert escape_clip("abcdef", 4) == "abc…"
    assert escape_clip("&&&&", 6) == "&amp;…"
    assert escape_clip("<<<<", 5) == "&lt;…"
    assert len(escape_clip("x" * 100_000, 3000)) == 3000


def test_escape_clip_at_exact_fit_adds_no_ellipsis():
    assert escape_clip("a&b", 7) == "a&amp;b"
    assert escape_clip("abc", 3) == "abc"


def test_escape_clip_counts_escaped_length_not_raw_length():
    out = escape_clip("<" * 1000, 2000)
    assert len(out) <= 2000
    assert out.count("&lt;") == 499


def test_escape_clip_removes_control_characters():
    assert escape_clip("a\x00b\x1b", 10) == "ab"


def test_escape_clip_does_not_end_with_a_space_before_the_ellipsis():
    assert escape_clip("ab  cdef", 5) == "ab…"


def test_clip_and_plain():
    assert clip("abcdef", 4) == "abc…"
    assert clip("abc", 3) == "abc"
    assert plain("line one\nline\x00 two", 100) == "line one line two"
    assert plain("   ", 10) == "-"
    assert len(plain("y" * 500, 150)) == 150


# --- safe_url ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        "JAVASCRIPT:alert(1)",
        "data:text/html,<script>alert(1)</script>",
        "vbscript:msgbox",
        "/project/1/person/x",
        "person/x",
        "//evil.com/x",
        "ftp://files.example.com/x",
        "mailto:jane@acme.com",
        "https://",
        "https:///path",
        "",
        None,
        42,
        "https://acme.com/" + "x" * 3000,
    ],
)
def test_safe_url_rejects(url):
    assert safe_url(url) is None


def test_safe_url_encodes_what_could_break_out_of_a_link():
    url = safe_url('https://us.posthog.com/person/a|b<c>d e"f')
    assert url == "https://us.posthog.com/person/a%7Cb%3Cc%3Ed%20e%22f"


def test_safe_url_keeps_ordinary_urls_intact():
    for url in [
        "https://us.posthog.com/project/1/person/user_42",
        "http://localhost:8000/project/1/events/abc?x=1&y=2#frag",
        "https://us.posthog.com/project/1/person/jane%40acme.com",
    ]:
        assert safe_url(url) == url


def test_safe_url_encodes_non_ascii_and_strips_spaces_around():
    assert safe_url("  https://acme.com/é  ") == "https://acme.com/%C3%A9"


def test_link_builds_a_mrkdwn_link_with_an_escaped_label():
    assert link("https://acme.com/a?b=1&c=2", "A & B") == "<https://acme.com/a?b=1&amp;c=2|A &amp; B>"


def test_link_without_a_safe_url_is_just_the_label():
    assert link("javascript:alert(1)", "<!channel>") == "&lt;!channel&gt;"
    assert link(None, "Person") == "Person"


def test_a_label_cannot_fake_a_second_link():
    out = link("https://acme.com", "x> <https://evil.com|PostHog")
    assert out == "<https://acme.com|x&gt; &lt;https://evil.com|PostHog>"
    assert out.count("<") == 1
