"""One real Drover stack for the whole pytest session, started by the Node helper test/helpers/serve-stack.ts.

The helper starts the Temporal dev server (the run's shared one when DROVER_TEST_TEMPORAL_ADDRESS
is set), a scratch PostgreSQL database, the provider emulator, the API and a worker, prints one
JSON line, and stops everything when its stdin closes. Nothing of Drover is mocked.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from drover import Drover

REPO_ROOT = Path(__file__).resolve().parents[3]
START_TIMEOUT_S = float(os.environ.get("DROVER_TEST_STACK_TIMEOUT", "300"))


@dataclass
class Stack:
    base_url: str
    admin_key: str
    emulator_url: str

    def set_faults(self, faults: dict[str, Any]) -> None:
        """Replaces the emulator's fault config (``{}`` clears it), through its admin route."""
        r = httpx.put(f"{self.emulator_url}/_emulator/faults", json=faults, timeout=10)
        r.raise_for_status()

    def admin(self, method: str, path: str, body: Any = None) -> httpx.Response:
        """A raw call with the admin key, for what the client does not cover (tenant quotas)."""
        return httpx.request(method, self.base_url + path, json=body, headers={"authorization": f"Bearer {self.admin_key}"}, timeout=30)

    def new_key(self, tenant: str, scopes: list[str] | None = None) -> str:
        r = self.admin(
            "POST", "/v1/admin/keys", {"tenant": tenant, "name": "pytest", "scopes": scopes or ["batches:read", "batches:write"]}
        )
        assert r.status_code == 201, r.text
        return r.json()["key"]


def _node() -> str:
    # Under `npm test`, the node that runs npm (Node 24) rather than whatever `node` PATH finds first.
    node = os.environ.get("DROVER_TEST_NODE") or os.environ.get("npm_node_execpath") or shutil.which("node")
    if not node:
        raise RuntimeError("node is not on PATH (the stack helper needs Node 24): set DROVER_TEST_NODE")
    return node


@pytest.fixture(scope="session")
def stack() -> Iterator[Stack]:
    stderr = tempfile.TemporaryFile()
    proc = subprocess.Popen(
        [_node(), "--import", "tsx", "test/helpers/serve-stack.ts", "--processing-ms", "200"],
        cwd=REPO_ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=stderr,
    )
    line: list[bytes] = []
    reader = threading.Thread(target=lambda: line.append(proc.stdout.readline()), daemon=True)  # type: ignore[union-attr]
    reader.start()
    reader.join(START_TIMEOUT_S)

    def helper_log() -> str:
        stderr.seek(0)
        return stderr.read().decode("utf-8", "replace")[-4000:]

    def stop() -> None:
        if proc.poll() is None:
            proc.stdin.close()  # type: ignore[union-attr]
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                proc.terminate()
                proc.wait(30)
        stderr.close()

    if not line or not line[0].strip():
        log = helper_log()
        stop()
        raise RuntimeError(f"the stack did not start within {START_TIMEOUT_S:.0f} s:\n{log}")
    info = json.loads(line[0])
    try:
        yield Stack(base_url=info["base_url"], admin_key=info["admin_key"], emulator_url=info["emulator_url"])
    finally:
        stop()


@pytest.fixture(scope="session")
def client(stack: Stack) -> Iterator[Drover]:
    with Drover(stack.base_url, api_key=stack.admin_key, retry_base_delay=0.05) as c:
        yield c


@pytest.fixture()
def no_faults(stack: Stack) -> Iterator[Stack]:
    """Clears the emulator's faults after the test, whatever it set."""
    try:
        yield stack
    finally:
        stack.set_faults({})


def until(fn: Any, ok: Any, timeout: float = 30.0, interval: float = 0.1) -> Any:
    """Calls ``fn`` until ``ok(value)``; returns the value (AssertionError with the last one on timeout)."""
    deadline = time.monotonic() + timeout
    while True:
        value = fn()
        if ok(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not reached within {timeout} s: {value!r}")
        time.sleep(interval)
