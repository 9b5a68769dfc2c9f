"""``python -m harvest_studio.api``: print the OpenAPI document (the one committed as
``docs/openapi.json``; a test fails when the two differ)."""

from __future__ import annotations

import json

from .app import create_app

if __name__ == "__main__":
    print(json.dumps(create_app().openapi(), indent=1, ensure_ascii=False))
