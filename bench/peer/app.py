"""The benchmark's peer: fastapi-users' forgot-password and reset-password routes.

``POST /auth/forgot-password`` and ``POST /auth/reset-password`` from fastapi-users, on a SQLite
file through SQLAlchemy and aiosqlite (fastapi-users' own SQLAlchemy adapter), hashing with
argon2id through pwdlib's ``Argon2Hasher`` at the parameters it is given (the benchmark gives
the server's), served by uvicorn in one worker as ``ciam-server serve`` serves the server.

Its SQLite file is in WAL mode (set by :mod:`bench.peer.seed`), as the server's is, and its
connections wait up to a minute for the write lock: with the driver's 5 s, concurrent resets
failed with "database is locked", the lock's holder waiting behind argon2 on the event loop.

Each forgot-password for an existing user appends its reset token to an outbox file, one JSON
line, as the server's dev outbox holds its codes; the benchmark reads the tokens there.

    PEER_RESET_SECRET=... python -m bench.peer.app --database peer.db --outbox tokens.jsonl \
        --argon2-time-cost 3 --argon2-memory-kib 65536 --argon2-parallelism 4 --port 8002
"""

# No ``from __future__ import annotations``: FastAPI reads the dependencies' annotations at run
# time, and those of ``create_app``'s inner functions name its local variables.
import argparse
import json
import os
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import uvicorn
from fastapi import Depends, FastAPI, Request
from fastapi_users import BaseUserManager, UUIDIDMixin
from fastapi_users.password import PasswordHelper
from fastapi_users.router import get_reset_password_router
from fastapi_users_db_sqlalchemy import SQLAlchemyBaseUserTableUUID, SQLAlchemyUserDatabase
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase

SQLITE_BUSY_TIMEOUT_S = 60


class Base(DeclarativeBase):
    pass


class User(SQLAlchemyBaseUserTableUUID, Base):
    pass


UserDatabase = SQLAlchemyUserDatabase[User, uuid.UUID]


@dataclass(frozen=True)
class Argon2Parameters:
    time_cost: int
    memory_kib: int
    parallelism: int


def password_helper(argon2: Argon2Parameters) -> PasswordHelper:
    """argon2id alone, at ``argon2``'s cost (hash and salt lengths are argon2-cffi's defaults,
    as the server's)."""
    hasher = Argon2Hasher(
        time_cost=argon2.time_cost,
        memory_cost=argon2.memory_kib,
        parallelism=argon2.parallelism,
    )
    return PasswordHelper(PasswordHash((hasher,)))


def create_app(database_url: str, outbox: Path, secret: str, argon2: Argon2Parameters) -> FastAPI:
    engine = create_async_engine(database_url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S})
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    helper = password_helper(argon2)

    class UserManager(UUIDIDMixin, BaseUserManager[User, uuid.UUID]):
        reset_password_token_secret = secret

        async def on_after_forgot_password(
            self, user: User, token: str, request: Request | None = None
        ) -> None:
            with outbox.open("a", encoding="utf-8") as out:
                out.write(json.dumps({"email": user.email, "token": token}) + "\n")

    async def user_database() -> AsyncIterator[UserDatabase]:
        async with sessions() as session:
            yield SQLAlchemyUserDatabase(session, User)

    async def user_manager(
        users: Annotated[UserDatabase, Depends(user_database)],
    ) -> AsyncIterator[UserManager]:
        yield UserManager(users, helper)

    app = FastAPI()
    app.include_router(get_reset_password_router(user_manager), prefix="/auth")
    return app


def argon2_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--argon2-time-cost", type=int, required=True)
    parser.add_argument("--argon2-memory-kib", type=int, required=True)
    parser.add_argument("--argon2-parallelism", type=int, required=True)


def argon2_parameters(arguments: argparse.Namespace) -> Argon2Parameters:
    return Argon2Parameters(
        time_cost=arguments.argon2_time_cost,
        memory_kib=arguments.argon2_memory_kib,
        parallelism=arguments.argon2_parallelism,
    )


def sqlite_url(path: str) -> str:
    return f"sqlite+aiosqlite:///{Path(path).resolve()}"


def main() -> None:
    parser = argparse.ArgumentParser(description="fastapi-users' password reset routes.")
    parser.add_argument("--database", required=True, help="the SQLite file, seeded already")
    parser.add_argument("--outbox", required=True, help="where reset tokens are appended")
    argon2_arguments(parser)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    arguments = parser.parse_args()
    app = create_app(
        sqlite_url(arguments.database),
        Path(arguments.outbox),
        os.environ["PEER_RESET_SECRET"],
        argon2_parameters(arguments),
    )
    uvicorn.run(
        app,
        host=arguments.host,
        port=arguments.port,
        workers=1,
        log_level="info",
        proxy_headers=False,
    )


if __name__ == "__main__":
    main()
