"""Enums whose members carry their words: a member is written `NAME = value, *words`, and the words
become the attributes the enum annotates, in order. The snooze choices (label, length), the feedback
reasons (label) and the funnel date ranges (PostHog's form, label) are each one such table, so
nothing that reads them can disagree on a label or a length."""

from __future__ import annotations

import inspect
from enum import StrEnum
from typing import Self


class WordedEnum(StrEnum):
    def __new__(cls, value: str, *words: object) -> Self:
        member = str.__new__(cls, value)
        member._value_ = value
        names = [name for name in inspect.get_annotations(cls) if not name.startswith("_")]
        for name, word in zip(names, words, strict=True):
            setattr(member, name, word)
        return member
