"""Company domains as accounts, the companies file and the CRM search keep them, and free-mail domains."""

from __future__ import annotations

import pytest

from bot.decide.domains import free_mail_domains, is_free_mail, normalise_domain


@pytest.mark.parametrize(
    ("value", "domain"),
    [
        ("acme.com", "acme.com"),
        ("ACME.COM", "acme.com"),
        ("  Acme.com  ", "acme.com"),
        ("www.acme.com", "acme.com"),
        ("WWW.Acme.com.", "acme.com"),
        ("https://www.Acme.com/pricing?plan=pro#top", "acme.com"),
        ("http://acme.com:8080", "acme.com"),
        ("http://acme.com:8080/x", "acme.com"),
        ("WWW.ACME.COM.", "acme.com"),
        ("acme.com/about", "acme.com"),
        ("https://jane:secret@acme.com/x", "acme.com"),
        ("https://acme.com/?ref=jane@gmail.com", "acme.com"),  # an email in the query is not the host
        ("jane@acme.com", "acme.com"),
        ("Jane.Doe@Sub.Acme.co.uk", "sub.acme.co.uk"),
        ("mailto:jane@acme.com", "acme.com"),
        ("umbrella.co.uk", "umbrella.co.uk"),
        ("xn--bcher-kva.example", "xn--bcher-kva.example"),
    ],
)
def test_normalise_domain(value, domain):
    assert normalise_domain(value) == domain


@pytest.mark.parametrize(
    "value",
    [
        "",
        "   ",
        "Acme Corp",
        "localhost",
        "acme",
        "a..b",
        "-acme.com",
        "acme-.com",
        "acme.c",
        "http://",
        "javascript:alert(1)",
        "jane@",
        "@",
        "<!channel>.com",
        "acme.com<script>",
        "x" * 300 + ".com",
        None,
        42,
        ["acme.com"],
        {"domain": "acme.com"},
    ],
)
def test_junk_is_not_a_domain(value):
    assert normalise_domain(value) is None


def test_free_mail_list_is_loaded():
    assert {"gmail.com", "yahoo.com", "hotmail.com", "outlook.com"} <= free_mail_domains()
    assert is_free_mail("gmail.com")
    assert not is_free_mail("acme.com")
