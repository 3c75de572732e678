"""Command line of the handoff service.

python -m handoff prepare   migrate, load demo data on an empty database
python -m handoff serve     run the service (Sanic + socket.io)
python -m handoff retention anonymise now what is past the retention period
                            (the service also does it every
                            HANDOFF_RETENTION_CHECK_SECONDS)
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from handoff.db import Database
from handoff.demo import DEMO_PASSWORD, DEMO_SUPERVISOR, DEMO_USERNAME, seed
from handoff.migrate import upgrade
from handoff.settings import PROJECT_ROOT, Settings


def prepare(settings: Settings) -> None:
    upgrade(settings.database_url)
    db = Database(settings.database_url)
    try:
        if seed(db, settings):
            print(
                f"Demo data loaded. Operator: {DEMO_USERNAME}, supervisor: {DEMO_SUPERVISOR};"
                f" password: {DEMO_PASSWORD}",
                flush=True,
            )
    finally:
        db.dispose()


def serve(settings: Settings) -> None:
    from handoff.app import create_app

    app = create_app(settings)
    app.run(
        host=settings.host,
        port=settings.port,
        single_process=True,
        access_log=False,
        motd=False,
    )


def run_retention(settings: Settings) -> None:
    import asyncio

    from handoff import retention_job

    anonymised = asyncio.run(retention_job.run_once(settings))
    print(f"Retention: {anonymised} attendances anonymised.", flush=True)


def run_content(action: str, project: Path, settings: Settings) -> int:
    from handoff import content

    try:
        if action == "check":
            print(f"Content is valid: {content.check(project)} articles.")
        else:
            print(content.reload(project, settings))
    except content.ContentError as error:
        print(f"Content rejected, nothing changed:\n{error}", file=sys.stderr)
        return 1
    return 0


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m handoff")
    parser.add_argument("command", choices=["prepare", "serve", "content", "retention"])
    parser.add_argument("action", nargs="?", choices=["check", "reload"])
    parser.add_argument("--project", type=Path, default=PROJECT_ROOT)
    args = parser.parse_args()
    settings = Settings()
    if args.command == "content":
        sys.exit(run_content(args.action or "check", args.project, settings))
    if args.command == "retention":
        logging.basicConfig(level=logging.INFO)
        run_retention(settings)
        return
    if args.command == "prepare":
        logging.basicConfig(level=logging.WARNING)
        prepare(settings)
    else:
        serve(settings)  # Sanic configures its own logging


if __name__ == "__main__":
    main()
