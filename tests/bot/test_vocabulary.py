"""An enum whose members carry their words."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, ValidationError

from bot.vocabulary import WordedEnum


class Size(WordedEnum):
    label: str
    people: int

    SMALL = "s", "small team", 10
    LARGE = "l", "large company", 1000


def test_members_carry_their_words_in_the_order_annotated():
    assert (Size.SMALL.label, Size.SMALL.people) == ("small team", 10)
    assert Size("l") is Size.LARGE and Size.LARGE == "l"


def test_a_member_is_read_from_its_value_only():
    class Sized(BaseModel):
        size: Size

    assert Sized.model_validate({"size": "s"}).size is Size.SMALL
    with pytest.raises(ValidationError):
        Sized.model_validate({"size": "small team"})


def test_a_member_with_missing_words_is_refused_when_the_enum_is_defined():
    with pytest.raises(ValueError):

        class Broken(WordedEnum):
            label: str
            seconds: int

            DAY = "1d", "1 day"
