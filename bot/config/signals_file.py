"""The signals file: which events matter, the ICP, routing, enrichment and access.

Loaded once and validated strictly (unknown keys are errors, so a typo never silently disables a
rule). Every problem is reported with the file, the path inside it (`signals[1].where`) and the reason.
"""

from __future__ import annotations

import re
from datetime import time as clock_time
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from bot.config.durations import parse_duration
from bot.slack.ids import is_user_id

Duration = Annotated[timedelta, BeforeValidator(parse_duration)]
Scalar = str | int | float | bool
ConditionValue = Scalar | list[Scalar]
CONTEXT_ROOTS = ("event", "properties", "person", "company", "groups", "account", "query")
QUERY_EVENT_PREFIX = "$query:"  # a query signal's rows go through the pipeline under this event name
MIN_QUERY_EVERY = timedelta(minutes=5)
OWNER_FROM_CRM = "crm"  # a route's owner: the HubSpot owner of the account's company, found in Slack
_SLACK_CHANNEL = re.compile(r"^(#[a-z0-9_\-.]{1,80}|[CGD][A-Z0-9]{2,})$")
# The bot's own settings (SPEC "Secrets stay where they are"): an enrichment API never receives them.
_OWN_SETTING_PREFIXES = ("SLACK_", "POSTHOG_", "ANTHROPIC_", "HUBSPOT_")
_OWN_SETTINGS = frozenset({"DATABASE_URL"})


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _check_paths(conditions: dict[str, Any]) -> dict[str, Any]:
    for path in conditions:
        root = path.split(".", 1)[0]
        if root not in CONTEXT_ROOTS or "." not in path:
            raise ValueError(f"{path!r} must start with one of {', '.join(r + '.' for r in CONTEXT_ROOTS)}")
    return conditions


MAX_THRESHOLD_WINDOW = timedelta(days=90)
# How long a threshold's counted events may still be read: its longest window, plus a day.
THRESHOLD_EVENTS_KEPT = MAX_THRESHOLD_WINDOW + timedelta(days=1)


class Threshold(_Strict):
    """An account-level threshold: `count` events, `people` different persons, or the `sum` of a
    numeric path reaching `at_least`, in the window of `within` that ends at each event's time."""

    count: int | None = Field(default=None, ge=1, le=1_000_000)
    people: int | None = Field(default=None, ge=1, le=1_000_000)
    sum: str | None = Field(default=None, description="a dotted path to a number, e.g. properties.seats")
    at_least: float | None = Field(default=None, gt=0)
    within: Duration

    @field_validator("sum")
    @classmethod
    def _sum_path(cls, value: str | None) -> str | None:
        if value is not None:
            _check_paths({value: None})
        return value

    @field_validator("within")
    @classmethod
    def _window(cls, value: timedelta) -> timedelta:
        if not timedelta(minutes=1) <= value <= MAX_THRESHOLD_WINDOW:
            raise ValueError("the window must be between 1m and 90d")
        return value

    @model_validator(mode="after")
    def _one_measure(self) -> Threshold:
        given = [name for name in ("count", "people", "sum") if getattr(self, name) is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of `count`, `people` or `sum` (with `at_least`)")
        if (self.sum is None) != (self.at_least is None):
            raise ValueError("`at_least` goes with `sum`, and `sum` needs it")
        return self

    @property
    def kind(self) -> Literal["count", "people", "sum"]:
        return "count" if self.count is not None else "people" if self.people is not None else "sum"

    @property
    def target(self) -> float:
        """The figure the window must reach."""
        return float(self.count or self.people or self.at_least or 0)


class AutoTask(_Strict):
    """Create the alert's CRM task right after it is posted, when it scores at least `min_score`."""

    min_score: int = Field(ge=0, le=100)


class Signal(_Strict):
    """One rule. It listens to an `event`, or runs a HogQL `query` every `every` whose rows go through
    the pipeline as events named `$query:<name>` (so `event` always names what it listens to)."""

    name: str = Field(min_length=1, max_length=100)
    event: str = Field(min_length=1, max_length=200)
    query: str | None = Field(default=None, max_length=20_000)
    every: Duration | None = None
    where: dict[str, ConditionValue] = Field(default_factory=dict)
    threshold: Threshold | None = None
    min_score: int = Field(default=0, ge=0, le=100)
    cooldown: Duration = timedelta(hours=24)
    action: str | None = Field(default=None, max_length=200, description="e.g. 'finished onboarding'")
    priority: Literal["low", "medium", "high"] = "medium"
    thread: Literal["account", "none"] = "account"
    deliver: Literal["now", "digest"] = "now"
    auto_task: AutoTask | None = None

    _paths = field_validator("where")(_check_paths)

    @model_validator(mode="before")
    @classmethod
    def _event_or_query(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        has_event, has_query = data.get("event") is not None, data.get("query") is not None
        if has_event == has_query:
            raise ValueError("give exactly one of `event` or `query`")
        if has_event:
            if isinstance(data["event"], str) and data["event"].startswith(QUERY_EVENT_PREFIX):
                raise ValueError(f"event names starting with {QUERY_EVENT_PREFIX!r} are the bot's own")
            if data.get("every") is not None:
                raise ValueError("`every` goes with `query`")
            return data
        if data.get("every") is None:
            raise ValueError("a `query` needs `every` (at least 5m), e.g. `every: 1h`")
        return {**data, "event": f"{QUERY_EVENT_PREFIX}{data.get('name')}"}

    @field_validator("query")
    @classmethod
    def _query_shape(cls, value: str | None) -> str | None:
        """What can be told without PostHog: text, and a column naming whom each row is about."""
        if value is None:
            return value
        if not value.strip():
            raise ValueError("the query is empty")
        if not re.search(r"\b(account|distinct_id)\b", value):  # column names are case-sensitive
            raise ValueError(
                "the query must return an `account` column (a domain) or a `distinct_id` column, "
                "e.g. `SELECT properties.company_domain AS account, ...`"
            )
        return value

    @field_validator("every")
    @classmethod
    def _every(cls, value: timedelta | None) -> timedelta | None:
        if value is not None and value < MIN_QUERY_EVERY:
            raise ValueError("a query runs at most every 5m")
        return value

    @model_validator(mode="after")
    def _query_rules(self) -> Signal:
        if self.query is not None and self.threshold is not None:
            raise ValueError("a `query` signal cannot have a `threshold`: put the condition in the query")
        return self

    @property
    def is_query(self) -> bool:
        return self.query is not None


class Digest(_Strict):
    """When `deliver: digest` alerts go out: once a day at `at` (HH:MM) in `timezone`."""

    at: str = "09:00"
    timezone: str = "UTC"

    @field_validator("at")
    @classmethod
    def _at(cls, value: str) -> str:
        match = re.fullmatch(r"([01]?\d|2[0-3]):([0-5]\d)", str(value).strip())
        if match is None:
            raise ValueError(f"{value!r} is not a time of day as HH:MM, e.g. 09:00")
        return f"{int(match[1]):02d}:{match[2]}"

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{value!r} is not a time zone, e.g. Europe/Amsterdam or UTC") from None
        return value

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def time_of_day(self) -> clock_time:
        hours, minutes = self.at.split(":")
        return clock_time(int(hours), int(minutes))


def _slack_channel(value: str) -> str:
    if not _SLACK_CHANNEL.match(value):
        raise ValueError(f"{value!r} is not a Slack channel id (C…, G…) or #name")
    return value


class Reports(_Strict):
    """A report of every signal's stats and the tracking plan's health, posted to `channel` every
    `every` (whole days: the stats it carries cover whole days)."""

    channel: str
    every: Duration = timedelta(days=7)

    _channel = field_validator("channel")(lambda cls, v: _slack_channel(v))

    @field_validator("every")
    @classmethod
    def _every(cls, value: timedelta) -> timedelta:
        seconds = value.total_seconds()
        if seconds < 86400 or seconds % 86400:
            raise ValueError("a report covers whole days: write 1d, 7d or 2w")
        return value

    @property
    def days(self) -> int:
        return int(self.every.total_seconds() // 86400)


class Criterion(_Strict):
    name: str = Field(min_length=1, max_length=100)
    field: str
    weight: float = Field(gt=0)
    between: tuple[float, float] | None = None
    in_: list[Scalar] | None = Field(default=None, alias="in")
    contains_any: list[Scalar] | None = None
    not_matches: re.Pattern[str] | None = None

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @field_validator("field")
    @classmethod
    def _field_path(cls, value: str) -> str:
        _check_paths({value: None})
        return value

    @field_validator("not_matches", mode="before")
    @classmethod
    def _compile(cls, value: Any) -> Any:
        if isinstance(value, str):
            try:
                return re.compile(value, re.IGNORECASE)
            except re.error as exc:
                raise ValueError(f"not a valid regular expression: {exc}") from None
        return value

    @model_validator(mode="after")
    def _exactly_one_test(self) -> Criterion:
        tests = [k for k in ("between", "in_", "contains_any", "not_matches") if getattr(self, k) is not None]
        if len(tests) != 1:
            raise ValueError("give exactly one of between, in, contains_any, not_matches")
        if self.between is not None and self.between[0] > self.between[1]:
            raise ValueError("between needs [low, high] with low <= high")
        return self

    @property
    def kind(self) -> str:
        for key, label in (
            ("between", "between"),
            ("in_", "in"),
            ("contains_any", "contains_any"),
            ("not_matches", "not_matches"),
        ):
            if getattr(self, key) is not None:
                return label
        raise AssertionError("validated to have one test")


class Route(_Strict):
    when: dict[str, ConditionValue] | None = None
    channel: str
    owner: str | None = Field(default=None, description="a Slack user id, or `crm`: the HubSpot owner")

    _paths = field_validator("when")(lambda cls, v: v if v is None else _check_paths(v))

    _channel = field_validator("channel")(lambda cls, v: _slack_channel(v))

    @field_validator("owner")
    @classmethod
    def _owner(cls, value: str | None) -> str | None:
        if value is not None and value != OWNER_FROM_CRM and not is_user_id(value):
            raise ValueError(f"{value!r} is not a Slack user id (U…) or `crm` (the HubSpot company's owner)")
        return value


class HttpProvider(_Strict):
    url: str = Field(description="URL template with {domain}")
    fields: dict[str, str] = Field(description="company field -> dotted path in the JSON response")
    auth_header: str | None = None
    auth_env: str | None = Field(default=None, description="environment variable holding the credential")
    auth_prefix: str = ""
    timeout: Duration = timedelta(seconds=3)
    not_found_status: list[int] = Field(default_factory=lambda: [404])

    @field_validator("url")
    @classmethod
    def _template(cls, value: str) -> str:
        if "{domain}" not in value:
            raise ValueError("the URL must contain {domain}")
        if not value.startswith(("http://", "https://")):
            raise ValueError("the URL must start with http:// or https://")
        return value

    @field_validator("auth_env")
    @classmethod
    def _not_our_own_secret(cls, value: str | None) -> str | None:
        """Its value is sent to `url`, which may be anyone's: refuse the bot's own credentials, in any
        case (a file written on a case-insensitive system may say `slack_bot_token`)."""
        if value is None:
            return value
        name = value.strip().upper()
        if name in _OWN_SETTINGS or name.startswith(_OWN_SETTING_PREFIXES):
            raise ValueError(
                f"{value} is one of the bot's own settings and would be sent to the enrichment API; "
                "give the API's key a variable of its own, such as ENRICHMENT_API_KEY"
            )
        return value

    @model_validator(mode="after")
    def _auth_pair(self) -> HttpProvider:
        if (self.auth_header is None) != (self.auth_env is None):
            raise ValueError("auth_header and auth_env go together")
        return self


class Enrichment(_Strict):
    file: Path | None = None
    http: HttpProvider | None = None
    cache_ttl: Duration = timedelta(days=30)
    negative_ttl: Duration = timedelta(days=1)


class Access(_Strict):
    writers: list[str] = Field(default_factory=list)

    @field_validator("writers")
    @classmethod
    def _users(cls, value: list[str]) -> list[str]:
        for user in value:
            if not is_user_id(user):
                raise ValueError(f"{user!r} is not a Slack user id (U…)")
        return value


class Crm(_Strict):
    """How "Create CRM task" fills in a task."""

    owners: dict[str, str] = Field(default_factory=dict, description="Slack user id -> HubSpot owner id")
    due_in_business_days: int = Field(default=2, ge=0, le=60)

    @field_validator("owners")
    @classmethod
    def _owner_ids(cls, value: dict[str, str]) -> dict[str, str]:
        for user, owner in value.items():
            if not is_user_id(user):
                raise ValueError(f"{user!r} is not a Slack user id (U…)")
            if not str(owner).isdigit():
                raise ValueError(f"HubSpot owner id for {user} must be a number, not {owner!r}")
        return {user: str(owner) for user, owner in value.items()}


class Pii(_Strict):
    """What never leaves the bot for the summary model."""

    fields: list[str] = Field(default_factory=list, description="dotted paths never sent, e.g. person.name")
    email: Literal["domain", "drop", "full"] = "domain"

    _paths = field_validator("fields")(lambda cls, v: [_check_paths({p: None}) and p for p in v])


class SummaryBudget(_Strict):
    daily_token_budget: int = Field(default=500_000, ge=0, description="0 turns Claude summaries off")


class SignalsConfig(_Strict):
    signals: list[Signal] = Field(min_length=1)
    icp: list[Criterion] = Field(default_factory=list)
    routing: list[Route] = Field(min_length=1)
    enrichment: Enrichment = Field(default_factory=Enrichment)
    access: Access = Field(default_factory=Access)
    crm: Crm = Field(default_factory=Crm)
    feedback_events: bool = False  # capture `signal_feedback` in PostHog when an alert is marked not relevant
    pii: Pii = Field(default_factory=Pii)
    summary: SummaryBudget = Field(default_factory=SummaryBudget)
    digest: Digest = Field(default_factory=Digest)
    reports: Reports | None = None

    @field_validator("signals")
    @classmethod
    def _unique_names(cls, value: list[Signal]) -> list[Signal]:
        seen: set[str] = set()
        for signal in value:
            if signal.name in seen:
                raise ValueError(f"signal name {signal.name!r} is used twice; names identify alerts")
            seen.add(signal.name)
        return value

    @field_validator("routing")
    @classmethod
    def _default_route_last(cls, value: list[Route]) -> list[Route]:
        defaults = [i for i, route in enumerate(value) if not route.when]
        if not defaults:
            raise ValueError("add a default route without `when` as the last entry")
        if defaults[0] != len(value) - 1:
            raise ValueError(f"routing[{defaults[0]}] has no `when`, so the routes after it never match")
        return value

    @property
    def event_names(self) -> frozenset[str]:
        """The events the webhook keeps (a query signal's rows never come through it)."""
        return frozenset(signal.event for signal in self.signals if not signal.is_query)

    @property
    def query_signals(self) -> list[Signal]:
        return [signal for signal in self.signals if signal.is_query]

    @property
    def digest_signals(self) -> list[Signal]:
        return [signal for signal in self.signals if signal.deliver == "digest"]


class SignalsFileError(Exception):
    """One or more problems in a signals file, each as `file: path: reason`."""

    def __init__(self, file: Path, problems: list[tuple[str, str]]):
        self.file = file
        self.problems = problems
        super().__init__("\n".join(self.lines()))

    def lines(self) -> list[str]:
        return [
            f"{self.file}: {path}: {reason}" if path else f"{self.file}: {reason}"
            for path, reason in self.problems
        ]


_UNION_TAGS = frozenset({"str", "int", "float", "bool"})


def _format_loc(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part in _UNION_TAGS or "[" in str(part) or str(part).startswith("tagged-union"):
            continue  # pydantic's name for a union member or validator, not a key in the file
        else:
            out += ("." if out else "") + str(part)
    return out


def parse_signals(data: Any, file: Path, base_dir: Path | None = None) -> SignalsConfig:
    """Validate already-parsed YAML; relative paths resolve against the file's folder."""
    if not isinstance(data, dict):
        raise SignalsFileError(file, [("", "the file must be a mapping with `signals`, `icp` and `routing`")])
    try:
        config = SignalsConfig.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            message = err["msg"].removeprefix("Value error, ")
            if err["type"] == "extra_forbidden":
                message = "unknown key (check the spelling)"
            problems.append((_format_loc(err["loc"]), message))
        raise SignalsFileError(file, problems) from None
    base = base_dir if base_dir is not None else file.parent
    if config.enrichment.file is not None and not config.enrichment.file.is_absolute():
        resolved = (base / config.enrichment.file).resolve()
        config = config.model_copy(
            update={"enrichment": config.enrichment.model_copy(update={"file": resolved})}
        )
    return config


class _UniqueKeyLoader(yaml.SafeLoader):
    """Safe YAML that rejects a key written twice in one mapping instead of keeping the last one."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=deep)
            try:
                duplicate = key in seen
                seen.add(key)
            except TypeError:  # an unhashable key; the base class reports it
                continue
            if duplicate:
                raise yaml.constructor.ConstructorError(
                    None, None, f"{key!r} appears twice in the same mapping", key_node.start_mark
                )
        return super().construct_mapping(node, deep=deep)


def load_signals(path: str | Path) -> SignalsConfig:
    """Read and validate a signals file; SignalsFileError names every problem."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SignalsFileError(file, [("", "file not found (set SIGNALS_CONFIG)")]) from None
    except OSError as exc:
        raise SignalsFileError(file, [("", f"cannot read: {exc.strerror}")]) from None
    try:
        data = yaml.load(text, Loader=_UniqueKeyLoader)  # a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        reason = getattr(exc, "problem", None) or str(exc)
        raise SignalsFileError(file, [(where, f"not valid YAML: {reason}")]) from None
    config = parse_signals(data, file)
    companies = config.enrichment.file
    if companies is not None and not companies.is_file():
        raise SignalsFileError(file, [("enrichment.file", f"{companies} does not exist")])
    return config
