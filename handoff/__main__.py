"""Command line of the handoff service.

python -m handoff prepare   migrate, load demo data on an empty database
python -m handoff serve     run the service (Sanic + socket.io)
"""

from __future__ import annotations

import argparse
import logging

from handoff.db import Database
from handoff.demo import DEMO_PASSWORD, DEMO_USERNAME, seed
from handoff.migrate import upgrade
from handoff.settings import Settings


def prepare(settings: Settings) -> None:
    upgrade(settings.database_url)
    db = Database(settings.database_url)
    try:
        if seed(db, settings):
            print(
                f"Demo data loaded. Operator: {DEMO_USERNAME} / password: {DEMO_PASSWORD}",
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


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m handoff")
    parser.add_argument("command", choices=["prepare", "serve"])
    args = parser.parse_args()
    settings = Settings()
    if args.command == "prepare":
        logging.basicConfig(level=logging.WARNING)
        prepare(settings)
    else:
        serve(settings)  # Sanic configures its own logging


if __name__ == "__main__":
    main()
