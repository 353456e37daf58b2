"""Cross-ecosystem MCP conformance: drives the built `agentpool` binary over stdio with the
official Python SDK (`mcp`).

    python tests/mcp-sdk/client.py path/to/agentpool

Prints one line per failed check, a short line per passed group, and last
`RESULT passed=N failed=M`; exits 1 on any failure. Run through tests/mcp-sdk/run.sh.
Isolation: a temporary AGENTPOOL_HOME, a private tmux socket under a temporary TMUX_TMPDIR,
a scratch git repository; all removed at the end.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import traceback
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import anyio
import jsonschema
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client

TAG = "py"
OVERALL_TIMEOUT_S = 180
REQUEST_TIMEOUT_S = 60  # observe_worker waits at most 45 s per call
INITIALIZE_TIMEOUT_S = 15
TOOLSETS = ["default", "usage", "stats", "sessions", "leases", "worktrees"]
ALL = ",".join(TOOLSETS)

BIN = str(Path(sys.argv[1] if len(sys.argv) > 1 else "target/debug/agentpool").resolve())
passed = 0
failed = 0


def ok(n: int = 1) -> None:
    global passed
    passed += n


def fail(what: str, detail: Any) -> None:
    global failed
    failed += 1
    print(f"{TAG} FAIL {what}: {one_line(detail)}", flush=True)


def group(text: str) -> None:
    print(f"{TAG} ok   {text}", flush=True)


def one_line(x: Any) -> str:
    if isinstance(x, BaseException):
        s = f"{type(x).__name__}: {x}"
    elif isinstance(x, str):
        s = x
    else:
        s = json.dumps(x, default=str)
    flat = " ".join(s.split())
    return flat if len(flat) <= 1200 else flat[:1200] + "…"


# ---------------------------------------------------------------------------------------------
# Isolation: temp dir, private AGENTPOOL_HOME, private tmux socket, scratch repository.

TMP = Path(tempfile.mkdtemp(prefix="apsdk-py-"))
SOCKET = f"appy-{os.getpid()}-{secrets.token_hex(2)}"
ISOLATED = {
    "AGENTPOOL_HOME": str(TMP / "home"),
    "AGENTPOOL_TMUX_SOCKET": SOCKET,
    "TMUX_TMPDIR": str(TMP),
}
# The SDK passes a safe subset of the environment (HOME, PATH, SHELL, TERM, USER, LOGNAME)
# plus `env`; the user's AGENTPOOL_MCP_* settings are therefore not inherited.
SERVER_ENV = dict(ISOLATED)
REPO = TMP / "repo"
STDERR = tempfile.TemporaryFile("w+")  # the servers' stderr, shown when a connection fails


def cleanup() -> None:
    try:
        # Only this run's private socket; never the default tmux server.
        subprocess.run(
            ["tmux", "-L", SOCKET, "kill-server"],
            env={**{k: v for k, v in os.environ.items() if k not in ("TMUX", "TMUX_PANE")}, "TMUX_TMPDIR": str(TMP)},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        pass
    shutil.rmtree(TMP, ignore_errors=True)


def make_repo() -> None:
    env = {**os.environ, "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}

    def git(*args: str) -> None:
        subprocess.run(["git", *args], cwd=REPO, env=env, check=True, capture_output=True)

    REPO.mkdir()
    git("init", "-q")
    git("config", "user.name", "AgentPool SDK test")
    git("config", "user.email", "sdk-test@example.invalid")
    git("config", "commit.gpgsign", "false")
    (REPO / "README.md").write_text("# scratch\n")
    git("add", "README.md")
    git("commit", "-q", "-m", "scratch")


# ---------------------------------------------------------------------------------------------
# Schema checks.

ONE = [
    "items",
    "additionalItems",
    "additionalProperties",
    "unevaluatedItems",
    "unevaluatedProperties",
    "contains",
    "propertyNames",
    "not",
    "if",
    "then",
    "else",
]
NAMED = ["properties", "patternProperties", "dependentSchemas", "$defs", "definitions"]
LISTED = ["anyOf", "oneOf", "allOf", "prefixItems"]


def boolean_subschemas(schema: Any, at: str, out: list[str]) -> list[str]:
    """Paths of boolean subschemas (`true`/`false` where a schema object is expected)."""
    if isinstance(schema, bool):
        out.append(f"{at} is {str(schema).lower()}")
        return out
    if not isinstance(schema, dict):
        return out
    for k in ONE:
        if k not in schema:
            continue
        v = schema[k]
        if isinstance(v, list):
            for i, s in enumerate(v):
                boolean_subschemas(s, f"{at}.{k}[{i}]", out)
        else:
            boolean_subschemas(v, f"{at}.{k}", out)
    for k in NAMED:
        v = schema.get(k)
        if isinstance(v, dict):
            for name, s in v.items():
                boolean_subschemas(s, f"{at}.{k}.{name}", out)
    for k in LISTED:
        v = schema.get(k)
        if isinstance(v, list):
            for i, s in enumerate(v):
                boolean_subschemas(s, f"{at}.{k}[{i}]", out)
    return out


def schema_problems(tool: Any) -> list[str]:
    problems: list[str] = []
    for key, schema in (("inputSchema", tool.input_schema), ("outputSchema", tool.output_schema)):
        if schema is None and key == "outputSchema":
            continue
        if not isinstance(schema, dict):
            problems.append(f"{key} is not an object")
            continue
        if schema.get("type") != "object":
            problems.append(f'{key} root type is {json.dumps(schema.get("type"))}, not "object"')
        problems.extend(boolean_subschemas(schema, key, []))
        try:
            jsonschema.Draft202012Validator.check_schema(schema)
        except jsonschema.SchemaError as e:
            problems.append(f"{key} is not a valid 2020-12 schema: {e.message} at {list(e.absolute_path)}")
    return problems


# ---------------------------------------------------------------------------------------------
# Server connections.


initialize_timed_out = False  # once the server hangs at start-up, later connects fail at once


async def connect(stack: AsyncExitStack, toolsets: str) -> tuple[ClientSession, Any]:
    global initialize_timed_out
    if initialize_timed_out:
        raise RuntimeError("skipped: an earlier initialize timed out")
    params = StdioServerParameters(
        command=BIN, args=["mcp", "--toolsets", toolsets], env=SERVER_ENV, cwd=str(TMP)
    )
    read, write = await stack.enter_async_context(stdio_client(params, errlog=STDERR))
    session = await stack.enter_async_context(ClientSession(read, write, read_timeout_seconds=REQUEST_TIMEOUT_S))
    try:
        with anyio.fail_after(INITIALIZE_TIMEOUT_S):
            init = await session.initialize()
    except BaseException as e:
        if isinstance(e, TimeoutError):
            initialize_timed_out = True
        STDERR.seek(0)
        tail = STDERR.read()[-2000:].strip() or "(empty)"
        raise RuntimeError(f"initialize failed: {e!r}; server stderr: {tail}") from e
    return session, init


async def list_all(fn: Any, key: str) -> list[Any]:
    from mcp.types import PaginatedRequestParams

    out: list[Any] = []
    cursor = None
    for _ in range(50):
        r = await fn(params=PaginatedRequestParams(cursor=cursor) if cursor else None)
        out.extend(getattr(r, key))
        cursor = r.next_cursor
        if not cursor:
            break
    return out


# ---------------------------------------------------------------------------------------------
# 1–2. Every toolset: initialize, tools/list through the SDK, every schema.


async def check_toolsets() -> None:
    names: dict[str, list[str]] = {}
    for toolsets in [*TOOLSETS, ALL]:
        label = "all toolsets" if toolsets == ALL else f"toolset {toolsets}"
        async with AsyncExitStack() as stack:
            try:
                session, init = await connect(stack, toolsets)
            except Exception as e:
                fail(f"{label}: initialize", e)
                continue
            if init.server_info.name and init.capabilities.tools is not None:
                ok()
            else:
                fail(f"{label}: initialize", f"serverInfo {init.server_info}, capabilities {init.capabilities}")
            try:
                tools = await list_all(session.list_tools, "tools")
                ok()
            except Exception as e:
                fail(f"{label}: tools/list (SDK ClientSession.list_tools)", e)
                continue
            tool_names = [t.name for t in tools]
            if tools and len(set(tool_names)) == len(tool_names):
                ok()
            else:
                fail(f"{label}: tool names", "duplicate tool names" if tools else "no tools listed")
            names[toolsets] = sorted(set(tool_names))
            bad = 0
            for t in tools:
                problems = schema_problems(t)
                if problems:
                    bad += 1
                    fail(f"{label}: {t.name} schema", "; ".join(problems))
                else:
                    ok()
            if bad == 0:
                group(f"{label}: {len(tools)} tools, input/output schemas valid (2020-12), no boolean subschemas")
    if all(t in names for t in TOOLSETS) and ALL in names:
        union = sorted({n for t in TOOLSETS for n in names[t]})
        if union == names[ALL]:
            ok()
        else:
            missing = sorted(set(union) - set(names[ALL]))
            extra = sorted(set(names[ALL]) - set(union))
            fail("all toolsets: tool names", f"not the union of the single toolsets (missing {missing}, extra {extra})")


# ---------------------------------------------------------------------------------------------
# 3. Default toolset: resources, resource templates, prompts.


def contents_problem(contents: list[Any], uri: str) -> str | None:
    if not contents:
        return "no contents"
    for item in contents:
        text = getattr(item, "text", None)
        blob = getattr(item, "blob", None)
        if not isinstance(text, str) and not isinstance(blob, str):
            return "an item has neither text nor blob"
        if str(item.uri) != uri:
            return f"item uri {item.uri} differs from {uri}"
        if isinstance(text, str) and item.mime_type == "application/json":
            try:
                json.loads(text)
            except ValueError as e:
                return f"mimeType application/json but text is not JSON: {e}"
    return None


async def check_resources_and_prompts() -> None:
    async with AsyncExitStack() as stack:
        try:
            session, _ = await connect(stack, "default")
        except Exception as e:
            fail("resources/prompts: initialize", e)
            return
        before = failed
        try:
            resources = await list_all(session.list_resources, "resources")
            ok() if resources else fail("resources/list", "no resources")
            templates = await list_all(session.list_resource_templates, "resource_templates")
            ok() if templates else fail("resources/templates/list", "no templates")
            prompts = await list_all(session.list_prompts, "prompts")
            ok() if prompts else fail("prompts/list", "no prompts")
            for r in resources:
                uri = str(r.uri)
                try:
                    res = await session.read_resource(uri)
                    problem = contents_problem(res.contents, uri)
                    fail(f"resources/read {uri}", problem) if problem else ok()
                except Exception as e:
                    fail(f"resources/read {uri}", e)
            for p in prompts:
                args = {
                    a.name: (str(REPO) if a.name == "repo_path" else f"dummy-{a.name}")
                    for a in (p.arguments or [])
                    if a.required
                }
                try:
                    res = await session.get_prompt(p.name, args)
                    ok() if res.messages else fail(f"prompts/get {p.name}", "no messages")
                except Exception as e:
                    fail(f"prompts/get {p.name}", e)
            if failed == before:
                group(
                    f"default toolset: {len(resources)} resources read, {len(templates)} templates, "
                    f"{len(prompts)} prompts fetched"
                )
        except Exception as e:
            fail("resources/prompts", e)


# ---------------------------------------------------------------------------------------------
# 4. Lifecycle through tools on the all-toolsets server.


async def check_lifecycle() -> None:
    async with AsyncExitStack() as stack:
        try:
            session, _ = await connect(stack, ALL)
        except Exception as e:
            fail("lifecycle: initialize", e)
            return
        before = failed
        calls = 0
        try:
            tools = await list_all(session.list_tools, "tools")
            ok()
        except Exception as e:
            fail("lifecycle: tools/list (SDK ClientSession.list_tools)", e)
            return
        validators: dict[str, jsonschema.Draft202012Validator] = {}
        for t in tools:
            if t.output_schema is not None:
                try:
                    jsonschema.Draft202012Validator.check_schema(t.output_schema)
                    validators[t.name] = jsonschema.Draft202012Validator(t.output_schema)
                except jsonschema.SchemaError:
                    pass  # reported by the toolset checks

        async def call(name: str, args: dict[str, Any]) -> dict[str, Any] | None:
            """A successful tools/call whose structuredContent matches the tool's outputSchema."""
            nonlocal calls
            calls += 1
            try:
                res = await session.call_tool(name, args, read_timeout_seconds=REQUEST_TIMEOUT_S)
            except Exception as e:
                fail(name, f"tools/call raised {e!r}")
                return None
            if res.is_error:
                fail(name, f"isError result: {json.dumps(res.structured_content)}")
                return None
            sc = res.structured_content
            if not isinstance(sc, dict):
                fail(name, "no structuredContent object")
                return None
            validator = validators.get(name)
            if validator is None:
                fail(name, "no valid outputSchema for this tool")
                return None
            errors = sorted(validator.iter_errors(sc), key=lambda e: list(e.absolute_path))
            if errors:
                detail = "; ".join(f"{'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}" for e in errors[:10])
                fail(name, f"structuredContent does not match outputSchema: {detail}")
                return None
            ok()
            return sc

        def expect(what: str, cond: bool, detail: str) -> None:
            ok() if cond else fail(what, detail)

        try:
            inv = await call("get_inventory", {})
            if inv is not None:
                ids = [p.get("provider_id", p.get("id")) for p in inv.get("providers", [])]
                expect("get_inventory", "fake-question" in ids, f"fake-question not among providers {ids}")

            spawned = await call(
                "spawn_worker",
                {
                    "provider_id": "fake-question",
                    "repo_path": str(REPO),
                    "task": "Answer the question you are asked, then finish. (AgentPool MCP SDK conformance test)",
                },
            )
            sid = (spawned or {}).get("session_id")
            if not sid:
                fail("lifecycle", "spawn_worker gave no session_id; the rest of the lifecycle is skipped")
                return

            async def wait_for(event: str) -> dict[str, Any] | None:
                for _ in range(6):
                    o = await call("observe_worker", {"session_id": sid, "wait_for": [event], "timeout_seconds": 20})
                    if o is None:
                        return None
                    if o.get("event") == event:
                        return o
                fail("observe_worker", f"no {event} event after 6 waits")
                return None

            q = await wait_for("question")
            if q is not None:
                expect("observe_worker question", q.get("state") == "AWAITING_USER_INPUT", f"state {q.get('state')}")

            # Leases need an active session: take one while the worker waits for its answer.
            lease = await call("acquire_file_lease", {"session_id": sid, "file_path": "README.md", "mode": "write"})
            leases = await call("list_file_leases", {"session_id": sid})
            if leases is not None:
                n = len(leases.get("leases") or [])
                expect("list_file_leases", n == 1, f"{n} leases")
            lease_id = ((lease or {}).get("lease") or {}).get("id")
            released = await call(
                "release_file_lease", {"lease_id": lease_id} if lease_id is not None else {"session_id": sid}
            )
            if released is not None:
                expect("release_file_lease", released.get("ok") is True, f"ok is {released.get('ok')}")

            sent = await call("send_worker_message", {"session_id": sid, "message": "Go ahead with the default."})
            if sent is not None:
                expect("send_worker_message", sent.get("ok") is True, f"ok is {sent.get('ok')}")
            done = await wait_for("completed")
            if done is not None:
                expect("observe_worker completed", done.get("state") == "COMPLETED", f"state {done.get('state')}")

            polled = await call("poll_worker", {"session_id": sid})
            if polled is not None:
                expect("poll_worker", polled.get("session_id") == sid, f"session_id {polled.get('session_id')}")
            await call("attach_info", {"session_id": sid})

            collected = await call("collect_worker_artifacts", {"session_id": sid})
            if collected is not None:
                expect("collect_worker_artifacts", bool(collected.get("artifacts")), "no artifacts")
            manifest = await call("get_artifact_manifest", {"session_id": sid})
            if manifest is not None:
                expect("get_artifact_manifest", manifest.get("session_id") == sid, f"session_id {manifest.get('session_id')}")
            transcript = await call("read_worker_transcript", {"session_id": sid})
            if transcript is not None:
                expect(
                    "read_worker_transcript", transcript.get("session_id") == sid, f"session_id {transcript.get('session_id')}"
                )

            # The session's resources (templates) resolve for a real session.
            for uri in (
                f"agentpool://sessions/{sid}/transcript",
                f"agentpool://sessions/{sid}/events",
                f"agentpool://artifacts/{sid}",
            ):
                try:
                    res = await session.read_resource(uri)
                    problem = contents_problem(res.contents, uri)
                    fail(f"resources/read {uri}", problem) if problem else ok()
                except Exception as e:
                    fail(f"resources/read {uri}", e)

            listed = await call("list_sessions", {})
            if listed is not None:
                ids = [s.get("id", s.get("session_id")) for s in listed.get("sessions", [])]
                expect("list_sessions", sid in ids, f"{sid} not in {ids}")
            got = await call("get_session", {"session_id": sid})
            if got is not None:
                got_id = (got.get("session") or {}).get("id", (got.get("session") or {}).get("session_id"))
                expect("get_session", got_id == sid, f"session.id {got_id}")

            # The other toolsets' tools, read-only or confined to the temp home and scratch repository.
            await call("list_worktrees", {"repo_path": str(REPO)})
            await call("get_usage_summary", {})
            await call("get_cached_usage_snapshot", {})
            await call("get_usage_snapshot", {"provider_id": "fake-question"})
            await call("get_provider_models", {"provider_id": "fake-question"})
            await call("get_delegation_preferences", {})
            await call("validate_model_catalog", {})
            await call("filter_candidates", {})
            await call("get_stats", {})
            await call("get_stats_card", {})

            t1 = await call("terminate_worker", {"session_id": sid, "reason": "sdk conformance test done"})
            if t1 is not None:
                expect("terminate_worker", t1.get("ok") is True, f"ok is {t1.get('ok')}")
            t2 = await call("terminate_worker", {"session_id": sid})
            if t2 is not None:
                expect(
                    "terminate_worker (again)",
                    t2.get("ok") is True and t2.get("already_terminated") is True,
                    f"ok {t2.get('ok')}, already_terminated {t2.get('already_terminated')}",
                )

            # A failure is an isError result carrying {"error": {code, message, details}}.
            calls += 1
            try:
                r = await session.call_tool("get_session", {"session_id": "ap_000000000000"})
                try:
                    err = json.loads(r.content[0].text).get("error") if r.content else None
                except (ValueError, AttributeError):
                    err = None
                expect(
                    "get_session (unknown id)",
                    r.is_error
                    and r.structured_content is None
                    and isinstance(err, dict)
                    and err.get("code") == "SESSION_NOT_FOUND"
                    and isinstance(err.get("message"), str)
                    and "details" in err,
                    f"expected an isError result whose text is {{\"error\": {{code, message, details}}}}, got {r.model_dump_json()}",
                )
            except Exception as e:
                fail("get_session (unknown id)", f"tools/call raised {e!r}")

            if failed == before:
                group(f"lifecycle: {calls} tool calls, every structuredContent matches its outputSchema")
            else:
                print(f"{TAG} --   lifecycle: {calls} tool calls, {failed - before} failed check(s)", flush=True)
        except Exception as e:
            fail("lifecycle", e)


# ---------------------------------------------------------------------------------------------


async def main() -> None:
    if not os.path.isfile(BIN):
        fail("setup", f"no agentpool binary at {BIN} (build it: cargo build -p agentpool-cli)")
        return
    make_repo()
    try:
        with anyio.fail_after(OVERALL_TIMEOUT_S):
            await check_toolsets()
            await check_resources_and_prompts()
            await check_lifecycle()
    except TimeoutError:
        fail("timeout", f"the Python client did not finish within {OVERALL_TIMEOUT_S} s")


def run() -> int:
    def on_signal(signum: int, _frame: Any) -> None:
        raise KeyboardInterrupt(signal.Signals(signum).name)

    signal.signal(signal.SIGTERM, on_signal)
    try:
        anyio.run(main)
    except KeyboardInterrupt as e:
        fail("interrupted", str(e) or "SIGINT")
    except BaseException as e:  # noqa: BLE001 - every crash is one counted failure
        fail("client", "".join(traceback.format_exception(e))[-1500:])
    finally:
        cleanup()
    print(f"RESULT passed={passed} failed={failed}", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(run())
