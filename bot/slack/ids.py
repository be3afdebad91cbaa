"""Identifiers shared by the message builders, the listeners and the manifest: one place to change."""

CREATE_CRM_TASK = "create_crm_task"
SNOOZE = "snooze"
NOT_RELEVANT = "not_relevant"
OPEN_POSTHOG = "open_posthog"
OPEN_CRM_TASK = "open_crm_task"
UNSNOOZE = "unsnooze"
ALERT_ACTION_IDS = (CREATE_CRM_TASK, SNOOZE, NOT_RELEVANT, OPEN_POSTHOG, OPEN_CRM_TASK, UNSNOOZE)

NOT_RELEVANT_VIEW = "not_relevant_reason"
FEEDBACK_REASONS = {
    "wrong_fit": "wrong fit",
    "already_working": "already working it",
    "bad_data": "bad data",
    "other": "other",
}

SNOOZE_CHOICES = {"1d": "1 day", "7d": "7 days", "30d": "30 days"}

METADATA_EVENT_TYPE = "posthog_signal"
SLASH_COMMAND = "/posthog"
