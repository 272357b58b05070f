"""`klaster migrate`: bring the database schema to the newest migration (or another one)."""

from __future__ import annotations

import argparse

from market.commands._common import database_url, fail


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--database-url", help="default: DATABASE_URL or the SQLite data dir")
    parser.add_argument("--revision", default="head", help="target revision (default head)")
    parser.add_argument("--downgrade", metavar="REV", help="downgrade to REV instead")
    parser.add_argument(
        "--check", action="store_true", help="only report drift between models and the database"
    )


def run(args: argparse.Namespace) -> int:
    from market.db.engine import downgrade, migrate
    from market.schema import schema_drift

    url = database_url(args.database_url)
    try:
        if args.check:
            diff = schema_drift(url)
            if diff:
                for item in diff:
                    print(item)
                return fail(f"{len(diff)} difference(s) between the models and the database", 1)
            print("schema matches the models")
            return 0
        if args.downgrade:
            downgrade(url, args.downgrade)
            print(f"downgraded to {args.downgrade}")
        else:
            migrate(url, args.revision)
            print(f"database at {args.revision}")
    except Exception as exc:
        return fail(f"migration failed: {exc}", 1)
    return 0
