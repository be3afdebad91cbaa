"""`python -m bot serve | check | demo | replay | migrate | digest | report | stats | lint`."""

from __future__ import annotations

import argparse
import os
import sys

from bot import __version__


def _serve(args: argparse.Namespace) -> int:
    from bot.app.server import listen

    # Listen first: while the app loads, PostHog's deliveries wait in the backlog instead of being
    # refused. ($PORT is known here on Heroku and under a process manager; from .env it is known
    # only once the settings are read.)
    port = args.port or _port_from_environment()
    try:
        sock = listen(args.host, port) if port else None
    except OSError as exc:
        print(f"serve: cannot listen on {args.host}:{port}: {exc.strerror}", file=sys.stderr)
        return 2

    from bot.config.settings import Settings
    from bot.config.signals_file import SignalsFileError, load_signals
    from bot.ops import logs

    settings = Settings()
    logs.configure(settings.log_level)
    missing = settings.missing_for_serve()
    if missing:
        print(f"serve: missing required setting(s): {', '.join(missing)}", file=sys.stderr)
        print(
            "Set them in the environment or in .env; `python -m bot check` lists everything.", file=sys.stderr
        )
        return 2
    try:
        config = load_signals(settings.signals_config)
    except SignalsFileError as exc:
        print("\n".join(exc.lines()), file=sys.stderr)
        return 2
    if sock is None:
        try:
            sock = listen(args.host, settings.port)
        except OSError as exc:
            print(f"serve: cannot listen on {args.host}:{settings.port}: {exc.strerror}", file=sys.stderr)
            return 2

    from bot.tools.migrate import bring_up_to_date

    # Before any process of this server uses the database: an older one is upgraded (once, however
    # many servers start at once), a newer one is refused untouched.
    if not bring_up_to_date(settings, "serve"):
        return 2

    from bot.app.server import run

    run(settings, config, sock, workers=args.workers)
    return 0


def _port_from_environment() -> int | None:
    value = os.environ.get("PORT", "")
    return int(value) if value.isdigit() and 0 < int(value) < 65536 else None


def _check(args: argparse.Namespace) -> int:
    from bot.tools.check import run_check

    if args.owner_of and not args.online:
        print("check: --owner-of asks HubSpot and Slack, so it needs --online", file=sys.stderr)
        return 2
    return run_check(online=args.online, owner_of=args.owner_of)


def _replay(args: argparse.Namespace) -> int:
    from bot.tools.replay import run_replay

    return run_replay(args.file, args.from_posthog, args.dry_run)


def _migrate(args: argparse.Namespace) -> int:
    from bot.tools.migrate import run_migrate

    return run_migrate(sql=args.sql)


def _digest(args: argparse.Namespace) -> int:
    from bot.tools.digest import run_digest

    return run_digest()


def _report(args: argparse.Namespace) -> int:
    from bot.tools.report import run_report

    return run_report()


def _stats(args: argparse.Namespace) -> int:
    from bot.tools.stats import run_stats

    return run_stats(days=args.days)


def _lint(args: argparse.Namespace) -> int:
    from bot.tools.lint import run_lint

    return run_lint()


def _demo(args: argparse.Namespace) -> int:
    from bot.tools.demo import run_demo

    return run_demo(events_file=args.events)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot", description="PostHog events to Slack alerts.")
    parser.add_argument("--version", action="version", version=__version__)
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the HTTP server (Slack requests and the PostHog webhook)")
    serve.add_argument("--host", default="0.0.0.0")
    serve.add_argument("--port", type=int, default=None, help="default: $PORT or 3000")
    serve.add_argument("--workers", type=int, default=1, help="worker processes deciding events (default 1)")
    serve.set_defaults(run=_serve)

    check = commands.add_parser("check", help="validate settings and the signals file")
    check.add_argument("--online", action="store_true", help="also try each configured credential")
    check.add_argument(
        "--owner-of",
        metavar="DOMAIN",
        help="with --online, try the `owner: crm` lookups (HubSpot company, owner, Slack user) for DOMAIN",
    )
    check.set_defaults(run=_check)

    demo = commands.add_parser("demo", help="run bundled sample events through the whole loop, offline")
    demo.add_argument("--events", default=None, help="a JSONL file of webhook bodies (default: bundled)")
    demo.set_defaults(run=_demo)

    replay = commands.add_parser(
        "replay", help="feed PostHog events through the pipeline (a backtest with --dry-run)"
    )
    replay.add_argument("file", nargs="?", help="JSONL of webhook bodies or PostHog export rows")
    replay.add_argument(
        "--from-posthog", metavar="7d", help="read the last N days from PostHog instead (HogQL)"
    )
    replay.add_argument(
        "--dry-run", action="store_true", help="post and write nothing; report what would fire"
    )
    replay.set_defaults(run=_replay)

    migrate = commands.add_parser("migrate", help="bring the database's schema up to date")
    migrate.add_argument("--sql", action="store_true", help="print the SQL for review instead of running it")
    migrate.set_defaults(run=_migrate)

    digest = commands.add_parser("digest", help="post every pending digest now")
    digest.set_defaults(run=_digest)

    report = commands.add_parser("report", help="post the scheduled report (`reports`) now")
    report.set_defaults(run=_report)

    stats = commands.add_parser(
        "stats", help="per signal: events, alerts, what was done with them, precision"
    )
    stats.add_argument("--days", type=int, default=7, help="the period, in days up to now (default 7)")
    stats.set_defaults(run=_stats)

    lint = commands.add_parser(
        "lint",
        help="the tracking plan against PostHog: unknown events, naming, near-duplicates, quiet, unused",
    )
    lint.set_defaults(run=_lint)

    args = parser.parse_args(argv)
    if args.command == "replay" and bool(args.file) == bool(args.from_posthog):
        parser.error("replay takes a FILE or --from-posthog Nd")
    from pydantic import ValidationError

    try:
        return int(args.run(args))
    except ValidationError as exc:  # a setting out of range: say which and why, not a traceback
        if exc.title != "Settings":
            raise
        for error in exc.errors():
            name = str(error["loc"][0]).upper() if error["loc"] else "settings"
            print(f"{args.command}: {name}: {error['msg'].removeprefix('Value error, ')}", file=sys.stderr)
        print("`python -m bot check` lists every setting.", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
