"""What an alert calls the account and the plan, from whatever is known."""

from __future__ import annotations

from tests.support.factories import acme_facts, person_facts


def test_account_label_prefers_the_company_name():
    assert acme_facts().account_label == "Acme Corp"
    assert acme_facts().company_name == "Acme Corp"


def test_account_label_falls_back_to_domain_then_person():
    assert acme_facts(company={"domain": "acme.com"}).account_label == "acme.com"
    assert acme_facts(company={"name": "  "}).company_name is None
    assert person_facts(person_name="Sam", person_email="sam@x.io").account_label == "Sam"
    assert person_facts(person_email="sam@x.io").account_label == "sam@x.io"
    assert person_facts().account_label == "anon-7"
    assert person_facts(distinct_id=None).account_label == "person:anon-7"


def test_plan():
    assert acme_facts().plan == "trial"
    assert acme_facts(properties={}).plan is None
    assert acme_facts(properties={"plan": " "}).plan is None
    assert acme_facts(properties={"plan": ["trial"]}).plan is None
