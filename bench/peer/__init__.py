"""The benchmark's peer: password resets built on fastapi-users, as a Python team would."""
