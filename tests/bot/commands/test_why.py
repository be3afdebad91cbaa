"""Whom `/posthog why` asks about, from what was typed."""

from __future__ import annotations

from bot.commands.why import Target, target_of


def test_a_domain_is_the_account():
    assert target_of("https://www.Acme.com/pricing") == Target("acme.com", ("acme.com",), (), "acme.com")


def test_an_email_is_its_companys_account_and_the_person():
    assert target_of("Jane@Acme.com") == Target(
        "Jane@Acme.com",
        ("acme.com", "person:Jane@Acme.com"),
        ("Jane@Acme.com", "jane@acme.com"),
        "acme.com",
        "jane@acme.com",
    )


def test_a_free_mail_email_is_only_the_person():
    target = target_of("bob@gmail.com")
    assert target.accounts == ("person:bob@gmail.com",) and target.domain is None


def test_anything_else_is_a_distinct_id():
    assert target_of("u_42") == Target("u_42", ("person:u_42",), ("u_42",))
