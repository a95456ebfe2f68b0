"""Makes the peer's SQLite file: its table and users, all with the hash of one password.

The hash is made once, with the peer's argon2 parameters (checking a hash costs the same
whoever owns it). Prints one JSON line: the number of users.

    python -m bench.peer.seed --database peer.db --emails emails.json \
        --argon2-time-cost 3 --argon2-memory-kib 65536 --argon2-parallelism 4
"""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import uuid
from pathlib import Path

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import create_async_engine

from bench.peer.app import (
    Base,
    User,
    argon2_arguments,
    argon2_parameters,
    password_helper,
    sqlite_url,
)


async def seed(database_url: str, emails: list[str], password_hash: str) -> None:
    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as connection:
            await connection.exec_driver_sql("PRAGMA journal_mode=WAL")
        async with engine.begin() as connection:
            await connection.run_sync(Base.metadata.create_all)
            await connection.execute(
                insert(User),
                [
                    {"id": uuid.uuid4(), "email": email, "hashed_password": password_hash}
                    for email in emails
                ],
            )
    finally:
        await engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description="Seed the peer's users.")
    parser.add_argument("--database", required=True)
    parser.add_argument("--emails", required=True, help="a JSON list of addresses")
    argon2_arguments(parser)
    arguments = parser.parse_args()
    emails: list[str] = json.loads(Path(arguments.emails).read_text())
    helper = password_helper(argon2_parameters(arguments))
    password_hash = helper.hash(f"Former-{secrets.token_hex(8)}")
    asyncio.run(seed(sqlite_url(arguments.database), emails, password_hash))
    print(json.dumps({"users": len(emails)}))


if __name__ == "__main__":
    main()
