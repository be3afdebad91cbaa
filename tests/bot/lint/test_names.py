"""The rules for event names, as pure functions over many names: snake_case and its suggestion, word
splitting, the stemmer, near-duplicate grouping and "did you mean"."""

from __future__ import annotations

import pytest

from bot.lint.names import (
    ABBREVIATIONS,
    FILLER_WORDS,
    KnownNames,
    breaks_convention,
    canonical_key,
    did_you_mean,
    is_snake_case,
    near_duplicate_groups,
    snake_case,
    stem,
    suggest_keep,
    words,
)

CLICKS = ["click", "Click", "button-click", "btnClick", "user_clicked_button"]


# -- snake_case ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("btnClick", "btn_click"),
        ("Button Click", "button_click"),
        ("button-click", "button_click"),
        ("Click", "click"),
        ("onboardingCompleted", "onboarding_completed"),
        ("OnboardingCompleted", "onboarding_completed"),
        ("SIGN_UP", "sign_up"),
        ("user.signed-up", "user_signed_up"),
        ("HTTPRequestSent", "http_request_sent"),
        ("getHTTPResponse", "get_http_response"),
        ("step2Completed", "step2_completed"),
        ("  Report   Exported  ", "report_exported"),
        ("report__exported", "report_exported"),
        ("_private_event", "private_event"),
        ("trailing_", "trailing"),
        ("café_opened", "cafe_opened"),
        ("Checkout: Started", "checkout_started"),
        ("plan/upgraded", "plan_upgraded"),
        ("Нажатие Кнопки", "нажатие_кнопки"),
        ("$pageview", "$pageview"),
        ("$Autocapture Thing", "$autocapture_thing"),
        ("!!!", ""),
    ],
)
def test_snake_case_suggestion(name, expected):
    assert snake_case(name) == expected


@pytest.mark.parametrize(
    "name",
    [
        "click",
        "onboarding_completed",
        "signup",
        "step_2",
        "step2_completed",
        "2fa_enabled",
        "abc123def",
        "v2",
    ],
)
def test_names_that_are_snake_case(name):
    assert is_snake_case(name) and not breaks_convention(name)


@pytest.mark.parametrize(
    "name",
    ["Click", "btnClick", "button-click", "Button Click", "sign__up", "_x", "x_", "a.b", "UPPER", "café", ""],
)
def test_names_that_break_snake_case(name):
    assert not is_snake_case(name)
    assert breaks_convention(name)


@pytest.mark.parametrize("name", ["$pageview", "$autocapture", "$Weird Name", "$feature_flag_called"])
def test_posthogs_own_events_are_exempt(name):
    assert not breaks_convention(name)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("btnClick", ["btn", "Click"]),
        ("HTTPRequest", ["HTTP", "Request"]),
        ("iOSInstalled", ["i", "OS", "Installed"]),
        ("MP3Played", ["MP3", "Played"]),
        ("step2Done", ["step2", "Done"]),
        ("a-b_c.d e", ["a", "b", "c", "d", "e"]),
        ("日本語", ["日本語"]),
        ("", []),
    ],
)
def test_words(name, expected):
    assert words(name) == expected


# -- the stemmer -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "forms",
    [
        ["click", "clicks", "clicked", "clicking"],
        ["complete", "completes", "completed", "completing"],
        ["create", "creates", "created", "creating"],
        ["invite", "invites", "invited", "inviting"],
        ["ship", "ships", "shipped", "shipping"],
        ["add", "adds", "added", "adding"],
        ["call", "calls", "called", "calling"],
        ["press", "presses", "pressed", "pressing"],
        ["push", "pushes", "pushed", "pushing"],
        ["match", "matches", "matched", "matching"],
        ["reply", "replies", "replied", "replying"],
        ["view", "views", "viewed", "viewing"],
        ["use", "uses", "used", "using"],
        ["page", "pages"],
        ["open", "opens", "opened", "opening"],
    ],
)
def test_word_forms_share_a_stem(forms):
    assert len({stem(f) for f in forms}) == 1, {f: stem(f) for f in forms}


@pytest.mark.parametrize("word", ["status", "analysis", "access", "bus", "up", "in", "step2", "x"])
def test_words_the_stemmer_leaves_alone(word):
    assert stem(word) == word


@pytest.mark.parametrize(
    ("one", "other"), [("click", "check"), ("sign", "sing"), ("sign", "signal"), ("add", "address")]
)
def test_different_words_keep_different_stems(one, other):
    assert stem(one) != stem(other)


# -- near-duplicates -------------------------------------------------------------------------------
def test_the_five_click_variants_make_two_groups():
    assert near_duplicate_groups(CLICKS) == [
        ["Click", "click"],
        ["btnClick", "button-click", "user_clicked_button"],
    ]


def test_button_click_variants_share_one_canonical_key():
    assert {canonical_key(n) for n in ["button-click", "btnClick", "user_clicked_button"]} == {"button click"}
    assert canonical_key("click") == canonical_key("Click") == "click"


@pytest.mark.parametrize(
    "group",
    [
        ["signup", "sign_up", "SignUp", "user_signed_up", "Sign Up"],  # gaps between words
        ["page_view", "pageview", "page_views", "pageViewed"],
        ["cart_item_added", "added_to_cart_item", "ItemAddedToCart"],  # word order and `to`
        ["msg_sent", "message_sent", "messages-sent", "MessageSent"],  # abbreviation and plural
        ["nav_opened", "navigation_open", "NavigationOpened"],
        ["img_uploaded", "image_upload", "uploaded-image"],
        ["acct_created", "account_created", "AccountCreate", "user_created_account"],
        ["usr_login", "user_login", "login"],  # `usr` is `user`, a filler word
        ["pg_viewed", "page_viewed", "viewed_page"],
        ["btns_clicked", "button_clicks"],  # a plural abbreviation
        ["report_exported", "Report Exported", "report.exported", "REPORT_EXPORTED"],
        ["event_did_fire", "fire", "fired"],
        ["logged_in", "login", "log_in", "LoggedIn"],
    ],
)
def test_names_written_differently_are_one_group(group):
    assert near_duplicate_groups([*group, "something_else"]) == [sorted(group)]


@pytest.mark.parametrize(
    "names",
    [
        ["onboarding_started", "onboarding_completed"],
        ["signup_started", "signup_completed"],
        ["log_in", "log_out"],
        ["invite_sent", "invite_accepted"],
        ["plan_upgraded", "plan_downgraded"],
        ["click", "double_click"],
        ["trial_started", "trial_ended"],
        ["page_view", "page_leave"],
        ["$pageview", "$pageleave"],
        ["sign_in", "sign_up"],
    ],
)
def test_different_events_stay_apart(names):
    assert near_duplicate_groups(names) == []


def test_posthogs_own_event_meets_a_custom_copy():
    assert near_duplicate_groups(["$pageview", "page_view", "Pageview"]) == [
        ["$pageview", "Pageview", "page_view"]
    ]


def test_groups_are_transitive_and_names_without_letters_group_with_nothing():
    assert near_duplicate_groups(["sign_up", "SignUp", "signup", "!!!", "???"]) == [
        ["SignUp", "sign_up", "signup"]
    ]


def test_a_name_of_only_filler_words_is_not_everything():
    assert near_duplicate_groups(["user", "event", "user_event"]) == []


def test_the_documented_tables_are_lowercase_and_small():
    assert all(k == k.lower() and v == v.lower() for k, v in ABBREVIATIONS.items())
    assert {"btn", "msg", "nav", "pg", "img", "usr", "acct"} <= set(ABBREVIATIONS)
    assert {"user", "event", "did", "has"} <= FILLER_WORDS
    assert len(ABBREVIATIONS) < 40 and len(FILLER_WORDS) < 40


# -- which name to keep ----------------------------------------------------------------------------
def test_keep_the_busiest_snake_case_name():
    volumes = {"click": 10, "Click": 500}
    assert suggest_keep(["click", "Click"], volumes.get) == "click"
    volumes = {"button_click": 5, "button_clicked": 50, "btnClick": 900}
    assert suggest_keep(["button_click", "button_clicked", "btnClick"], volumes.get) == "button_clicked"


def test_keep_the_snake_case_form_when_no_name_follows_the_convention():
    volumes = {"btnClick": 30, "Button Click": 80}
    assert suggest_keep(["btnClick", "Button Click"], volumes.get) == "button_click"


def test_keep_with_unknown_volumes_prefers_the_shorter_name():
    assert suggest_keep(["sign_up", "signup", "SignUp"], lambda _: None) == "signup"


# -- did you mean ----------------------------------------------------------------------------------
KNOWN = ["onboarding_completed", "onboarding_started", "invite_sent", "signup_started", "pricing_viewed"]


@pytest.mark.parametrize(
    ("asked", "first"),
    [
        ("onboarding_complete", "onboarding_completed"),
        ("onboardingCompleted", "onboarding_completed"),
        ("Onboarding Completed", "onboarding_completed"),
        ("onboarding_compelted", "onboarding_completed"),
        ("invites_sent", "invite_sent"),
        ("signup_startd", "signup_started"),
        ("pricing_view", "pricing_viewed"),
        ("INVITE_SENT", "invite_sent"),
    ],
)
def test_did_you_mean_puts_the_likeliest_first(asked, first):
    assert did_you_mean(asked, KNOWN)[0] == first


def test_did_you_mean_has_nothing_for_a_stranger_and_never_the_name_itself():
    assert did_you_mean("zzz_qqq", KNOWN) == []
    assert "invite_sent" not in did_you_mean("invite_sent", KNOWN)
    assert did_you_mean("anything", []) == []


def test_same_event_written_differently_ranks_by_volume_and_caps_at_three():
    known = ["btnClick", "button-click", "Button Click", "user_clicked_button", "button_clicked"]
    volumes = {"button_clicked": 900, "Button Click": 40}
    found = did_you_mean("button_click", known, volumes.get)
    assert found[:2] == ["button_clicked", "Button Click"] and len(found) == 3


def test_known_names_are_exact():
    known = KnownNames(["click", "Onboarding"])
    assert "click" in known and "Click" not in known and "onboarding" not in known
