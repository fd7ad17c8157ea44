"""Shared helpers for the sandbox tests: a seeded app, an httpx client, a fake clock, and the
spec's Invoice / Transaction / Customer schemas (checked when ../shared/chargebee is present)."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from functools import cache
from pathlib import Path
from typing import Any

import httpx
import yaml

from batchpay.sandbox import (
    DEFAULT_API_KEY,
    FaultConfig,
    SandboxStore,
    create_app,
    load_seed_file,
    sandbox_transport,
)

REPO = Path(__file__).resolve().parents[2]
SHARED = REPO / ".." / "shared" / "chargebee"
SAMPLE_SEED = REPO / "samples" / "sandbox-seed.yaml"
AUTH = (DEFAULT_API_KEY, "")
START = 1_800_000_000.0


def run(coro: Coroutine[Any, Any, Any]) -> Any:
    return asyncio.run(coro)


class Clock:
    def __init__(self, t: float = START) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


class Sandbox:
    """A seeded in-memory sandbox plus its clock."""

    def __init__(
        self,
        faults: FaultConfig | None = None,
        seed: dict | None = None,
        store: SandboxStore | None = None,
    ) -> None:
        self.store = store or SandboxStore(":memory:")
        self.store.load_seed(seed if seed is not None else load_seed_file(SAMPLE_SEED))
        self.clock = Clock()
        self.app = create_app(self.store, faults=faults, clock=self.clock)

    def client(self, version: str = "v2", auth: Any = AUTH) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            transport=sandbox_transport(self.app),
            base_url=f"http://sandbox.local/api/{version}",
            auth=auth,
        )

    def control(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            transport=sandbox_transport(self.app), base_url="http://sandbox.local"
        )

    def ledger(self) -> list[dict]:
        return self.store.ledger()


SPEC_FILES = {"v1": "chargebee_api_v1_spec.json", "v2": "chargebee_api_v2_subset.yaml"}
KINDS = (("invoice", "Invoice"), ("transaction", "Transaction"), ("customer", "Customer"))


@cache
def spec(version: str) -> dict | None:
    path = SHARED / SPEC_FILES[version]
    if not path.exists():
        return None
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    return yaml.load(path.read_text(encoding="utf-8"), Loader=loader)  # JSON is YAML


@cache
def _validator(version: str, kind: str) -> Any:
    from jsonschema import Draft202012Validator
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT202012

    document = spec(version)
    assert document is not None
    uri = f"urn:chargebee-{version}"
    registry = Registry().with_resource(
        uri, Resource.from_contents(document, default_specification=DRAFT202012)
    )
    return Draft202012Validator({"$ref": f"{uri}#/components/schemas/{kind}"}, registry=registry)


def undeclared_keys(doc: Any, schema: dict, where: str = "") -> list[str]:
    """Keys of ``doc`` (and of its nested objects) that ``schema`` does not declare: the
    sandbox serves only what the spec says this API version returns."""
    if not isinstance(doc, dict) or "properties" not in schema:
        return []
    found = []
    for key, value in doc.items():
        declared = schema["properties"].get(key)
        if declared is None:
            found.append(f"{where}{key}")
        elif isinstance(value, list) and "items" in declared:
            for item in value:
                found += undeclared_keys(item, declared["items"], f"{where}{key}[].")
        else:
            found += undeclared_keys(value, declared, f"{where}{key}.")
    return found


def assert_valid(body: dict, version: str = "v2") -> None:
    """Each invoice / transaction / customer in a success body must fit the spec's schema of
    ``version`` and carry no key that schema does not declare."""
    document = spec(version)
    if document is None:
        return
    for doc in body.get("list", [body]):
        for key, kind in KINDS:
            if key not in doc:
                continue
            errors = sorted(_validator(version, kind).iter_errors(doc[key]), key=str)
            assert not errors, (
                f"{version} {kind} does not fit the spec: {errors[0].message} "
                f"at {list(errors[0].path)}"
            )
            extra = undeclared_keys(doc[key], document["components"]["schemas"][kind])
            assert not extra, f"{version} {kind} has keys its spec does not declare: {extra}"


def specs_present() -> bool:
    return (SHARED / "chargebee_api_v2_subset.yaml").exists()


def ok(response: httpx.Response) -> dict:
    """A 200 whose body fits the spec."""
    assert response.status_code == 200, response.text
    body = response.json()
    assert_valid(body, "v1" if "/api/v1/" in response.request.url.path else "v2")
    return body


def error(response: httpx.Response, status: int, code: str, param: str | None = None) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["api_error_code"] == code, body
    assert body["http_status_code"] == status
    assert body["message"] and body["type"]
    if param is not None:
        assert body.get("param") == param, body
    return body
