"""Identifiers shared by the message builders, the listeners and the manifest: one place to change."""

CREATE_CRM_TASK = "create_crm_task"
SNOOZE = "snooze"
NOT_RELEVANT = "not_relevant"
OPEN_POSTHOG = "open_posthog"
ALERT_ACTION_IDS = (CREATE_CRM_TASK, SNOOZE, NOT_RELEVANT, OPEN_POSTHOG)

SNOOZE_CHOICES = {"1d": "1 day", "7d": "7 days", "30d": "30 days"}

METADATA_EVENT_TYPE = "posthog_signal"
SLASH_COMMAND = "/posthog"
