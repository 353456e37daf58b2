// Cross-ecosystem MCP conformance: drives the built `agentpool` binary over stdio with the
// official TypeScript SDK (the client Claude Code, the MCP Inspector and most Node hosts use).
//
//   node tests/mcp-sdk/client.mjs path/to/agentpool
//
// Prints one line per failed check, a short line per passed group, and last
// `RESULT passed=N failed=M`; exits 1 on any failure. Run through tests/mcp-sdk/run.sh.
// Isolation: a temporary AGENTPOOL_HOME, a private tmux socket under a temporary TMUX_TMPDIR,
// a scratch git repository; all removed at the end.

import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { isDeepStrictEqual } from 'node:util';

import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { CallToolResultSchema, ResultSchema } from '@modelcontextprotocol/sdk/types.js';
import Ajv2020Module from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';

const Ajv2020 = Ajv2020Module.default ?? Ajv2020Module;
const addFormats = addFormatsModule.default ?? addFormatsModule;

const TAG = 'ts';
const OVERALL_TIMEOUT_MS = 180_000;
const REQUEST_TIMEOUT_MS = 60_000; // observe_worker waits at most 45 s per call
const INITIALIZE_TIMEOUT_MS = 15_000;
const TOOLSETS = ['default', 'usage', 'stats', 'sessions', 'leases', 'worktrees'];
const ALL = TOOLSETS.join(',');

const bin = path.resolve(process.argv[2] ?? 'target/debug/agentpool');
let passed = 0;
let failed = 0;

function pass(n = 1) {
  passed += n;
}
function fail(what, detail) {
  failed += 1;
  console.log(`${TAG} FAIL ${what}: ${oneLine(detail)}`);
}
function group(text) {
  console.log(`${TAG} ok   ${text}`);
}
function oneLine(x) {
  const s = x instanceof Error ? x.message : typeof x === 'string' ? x : JSON.stringify(x);
  const flat = String(s).replace(/\s+/g, ' ').trim();
  return flat.length > 1200 ? `${flat.slice(0, 1200)}…` : flat;
}

// ---------------------------------------------------------------------------------------------
// Isolation: temp dir, private AGENTPOOL_HOME, private tmux socket, scratch repository.

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'apsdk-ts-'));
const socket = `apts-${process.pid}-${Math.random().toString(36).slice(2, 6)}`;
const isolated = {
  AGENTPOOL_HOME: path.join(tmp, 'home'),
  AGENTPOOL_TMUX_SOCKET: socket,
  TMUX_TMPDIR: tmp,
};
// The user's own settings must not change what the server exposes.
const serverEnv = { ...process.env, ...isolated };
for (const k of ['AGENTPOOL_MCP_TOOLSETS', 'AGENTPOOL_MCP_TOOLS', 'AGENTPOOL_MCP_LOCKDOWN', 'TMUX', 'TMUX_PANE']) {
  delete serverEnv[k];
}
const repo = path.join(tmp, 'repo');
// Server processes not yet exited. The SDK's close() gives a server 4 s to exit, in the
// background when connect() fails, so cleanup stops whatever is left (only these children).
const servers = new Set();
let cleanedUp = false;

function stopServers() {
  for (const child of servers) {
    try {
      child.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
}

function withoutTmux(env) {
  const { TMUX: _tmux, TMUX_PANE: _pane, ...rest } = env;
  return rest;
}

function cleanup() {
  if (cleanedUp) return;
  cleanedUp = true;
  stopServers();
  try {
    // Only this run's private socket; never the default tmux server.
    execFileSync('tmux', ['-L', socket, 'kill-server'], {
      env: { ...withoutTmux(process.env), TMUX_TMPDIR: tmp },
      stdio: 'ignore',
      timeout: 10_000,
    });
  } catch {
    // no server was started on the socket, or it is gone already
  }
  fs.rmSync(tmp, { recursive: true, force: true });
}

function makeRepo() {
  const git = (...args) =>
    execFileSync('git', args, {
      cwd: repo,
      stdio: 'pipe',
      env: { ...process.env, GIT_CONFIG_GLOBAL: '/dev/null', GIT_CONFIG_NOSYSTEM: '1' },
    });
  fs.mkdirSync(repo);
  git('init', '-q');
  git('config', 'user.name', 'AgentPool SDK test');
  git('config', 'user.email', 'sdk-test@example.invalid');
  git('config', 'commit.gpgsign', 'false');
  fs.writeFileSync(path.join(repo, 'README.md'), '# scratch\n');
  git('add', 'README.md');
  git('commit', '-q', '-m', 'scratch');
}

// ---------------------------------------------------------------------------------------------
// Schema checks.

function newAjv() {
  // Strict 2020-12: the meta-schema check runs at compile time, and strict mode also refuses
  // unknown keywords and formats (stricter than the SDK, which compiles with strict: false).
  const ajv = new Ajv2020({ strict: true, allErrors: true });
  addFormats(ajv);
  return ajv;
}

const ONE = [
  'items',
  'additionalItems',
  'additionalProperties',
  'unevaluatedItems',
  'unevaluatedProperties',
  'contains',
  'propertyNames',
  'not',
  'if',
  'then',
  'else',
];
const NAMED = ['properties', 'patternProperties', 'dependentSchemas', '$defs', 'definitions'];
const LISTED = ['anyOf', 'oneOf', 'allOf', 'prefixItems'];

/** Paths of boolean subschemas (`true`/`false` where a schema object is expected). */
function booleanSubschemas(schema, at, out = []) {
  if (typeof schema === 'boolean') {
    out.push(`${at} is ${schema}`);
    return out;
  }
  if (schema === null || typeof schema !== 'object' || Array.isArray(schema)) return out;
  for (const k of ONE) {
    if (!(k in schema)) continue;
    const v = schema[k];
    if (Array.isArray(v)) v.forEach((s, i) => booleanSubschemas(s, `${at}.${k}[${i}]`, out));
    else booleanSubschemas(v, `${at}.${k}`, out);
  }
  for (const k of NAMED) {
    const v = schema[k];
    if (v && typeof v === 'object' && !Array.isArray(v)) {
      for (const [name, s] of Object.entries(v)) booleanSubschemas(s, `${at}.${k}.${name}`, out);
    }
  }
  for (const k of LISTED) {
    if (Array.isArray(schema[k])) schema[k].forEach((s, i) => booleanSubschemas(s, `${at}.${k}[${i}]`, out));
  }
  return out;
}

/** Problems with one tool's input and output schemas (empty when fine). */
function schemaProblems(tool, ajv) {
  const problems = [];
  for (const key of ['inputSchema', 'outputSchema']) {
    const schema = tool[key];
    if (schema === undefined && key === 'outputSchema') continue;
    if (schema === null || typeof schema !== 'object' || Array.isArray(schema)) {
      problems.push(`${key} is not an object`);
      continue;
    }
    if (schema.type !== 'object') problems.push(`${key} root type is ${JSON.stringify(schema.type)}, not "object"`);
    problems.push(...booleanSubschemas(schema, key));
    try {
      ajv.compile(schema);
    } catch (e) {
      problems.push(`${key} does not compile (ajv 2020-12 strict): ${e.message}`);
    }
  }
  return problems;
}

/** The SDK's (zod) issues grouped by tool: `get_inventory: outputSchema.properties.policy (Invalid input)`. */
function describeSdkError(e, rawTools) {
  let issues = e?.issues;
  if (!Array.isArray(issues)) {
    try {
      issues = JSON.parse(e?.message);
    } catch {
      issues = null;
    }
  }
  if (!Array.isArray(issues)) return e?.message ?? String(e);
  const byTool = new Map();
  for (const i of issues) {
    const p = i.path ?? [];
    const tool = p[0] === 'tools' ? (rawTools?.[p[1]]?.name ?? `tools[${p[1]}]`) : '(result)';
    const at = p[0] === 'tools' ? p.slice(2).join('.') : p.join('.');
    if (!byTool.has(tool)) byTool.set(tool, []);
    byTool.get(tool).push(`${at} (${i.message})`);
  }
  const parts = [...byTool].map(([tool, list]) => `${tool}: ${list.join(', ')}`);
  return `${issues.length} issue(s) in ${byTool.size} tool(s): ${parts.join('; ')}`;
}

// ---------------------------------------------------------------------------------------------
// Server connections.

let initializeTimedOut = false; // once the server hangs at start-up, later connects fail at once

async function connect(toolsets) {
  if (initializeTimedOut) throw new Error('skipped: an earlier initialize timed out');
  const transport = new StdioClientTransport({
    command: bin,
    args: ['mcp', '--toolsets', toolsets],
    env: serverEnv,
    cwd: tmp,
    stderr: 'pipe',
  });
  let stderr = '';
  transport.stderr?.on('data', (d) => {
    stderr = (stderr + d.toString()).slice(-4000);
  });
  const client = new Client({ name: 'agentpool-sdk-conformance-ts', version: '1.0.0' }, { capabilities: {} });
  const start = transport.start.bind(transport);
  transport.start = async () => {
    await start();
    const child = transport._process; // StdioClientTransport's ChildProcess (not public API)
    if (child && child.exitCode === null && child.signalCode === null) {
      servers.add(child);
      child.once('close', () => servers.delete(child));
    }
  };
  try {
    await client.connect(transport, { timeout: INITIALIZE_TIMEOUT_MS });
  } catch (e) {
    if (/timed out/i.test(e.message)) initializeTimedOut = true;
    await client.close().catch(() => {});
    stopServers();
    throw new Error(`${e.message}; server stderr: ${stderr.trim() || '(empty)'}`);
  }
  // Diagnostics only: the last raw result, to say what the server sent when the SDK throws.
  const conn = { client, transport, stderr: () => stderr, lastResult: null };
  const deliver = transport.onmessage;
  transport.onmessage = (message, extra) => {
    if (message && 'result' in message) conn.lastResult = message.result;
    deliver?.(message, extra);
  };
  return conn;
}

async function disconnect(conn) {
  await conn.client.close().catch(() => {});
}

/** Every page of a list method through the SDK's own (validating) call. */
async function listAll(fn, key) {
  const out = [];
  let cursor;
  for (let page = 0; page < 50; page += 1) {
    const r = await fn(cursor ? { cursor } : undefined, { timeout: REQUEST_TIMEOUT_MS });
    out.push(...r[key]);
    cursor = r.nextCursor;
    if (!cursor) break;
  }
  return out;
}

/** tools/list without the SDK's Tool validation: only to name tools in a report when it fails. */
async function rawTools(client) {
  try {
    const r = await client.request({ method: 'tools/list', params: {} }, ResultSchema, { timeout: REQUEST_TIMEOUT_MS });
    return Array.isArray(r.tools) ? r.tools : null;
  } catch {
    return null;
  }
}

/**
 * The SDK's listTools (it validates every Tool); on failure, records it and falls back to a raw
 * listing so the remaining checks can still name the offending tools.
 */
async function listTools(client, what) {
  try {
    const tools = await listAll((p, o) => client.listTools(p, o), 'tools');
    pass();
    return { tools, sdkOk: true };
  } catch (e) {
    const raw = await rawTools(client);
    fail(`${what}: tools/list (SDK Client.listTools)`, describeSdkError(e, raw));
    return { tools: raw ?? [], sdkOk: false };
  }
}

// ---------------------------------------------------------------------------------------------
// 1–2. Every toolset: initialize, tools/list through the SDK, every schema.

async function checkToolsets() {
  const names = {};
  for (const toolsets of [...TOOLSETS, ALL]) {
    const label = toolsets === ALL ? 'all toolsets' : `toolset ${toolsets}`;
    let conn;
    try {
      conn = await connect(toolsets);
    } catch (e) {
      fail(`${label}: initialize`, e);
      continue;
    }
    try {
      const info = conn.client.getServerVersion();
      const caps = conn.client.getServerCapabilities();
      if (info?.name && caps?.tools) pass();
      else fail(`${label}: initialize`, `serverInfo ${JSON.stringify(info)}, capabilities ${JSON.stringify(caps)}`);

      const { tools } = await listTools(conn.client, label);
      const seen = new Set();
      let dup = false;
      for (const t of tools) {
        if (seen.has(t.name)) dup = true;
        seen.add(t.name);
      }
      if (tools.length > 0 && !dup) pass();
      else fail(`${label}: tool names`, tools.length ? 'duplicate tool names' : 'no tools listed');
      names[toolsets] = [...seen].sort();

      const ajv = newAjv();
      let bad = 0;
      for (const t of tools) {
        const problems = schemaProblems(t, ajv);
        if (problems.length === 0) pass();
        else {
          bad += 1;
          fail(`${label}: ${t.name} schema`, problems.join('; '));
        }
      }
      if (bad === 0 && tools.length) group(`${label}: ${tools.length} tools, input/output schemas compile (2020-12), no boolean subschemas`);
    } catch (e) {
      fail(`${label}`, e);
    } finally {
      await disconnect(conn);
    }
  }
  // The all-toolsets server lists exactly the union of the single toolsets.
  if (TOOLSETS.every((t) => names[t]) && names[ALL]) {
    const union = [...new Set(TOOLSETS.flatMap((t) => names[t]))].sort();
    if (isDeepStrictEqual(union, names[ALL])) pass();
    else {
      const missing = union.filter((n) => !names[ALL].includes(n));
      const extra = names[ALL].filter((n) => !union.includes(n));
      fail('all toolsets: tool names', `not the union of the single toolsets (missing ${missing}, extra ${extra})`);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// 3. Default toolset: resources, resource templates, prompts.

async function checkResourcesAndPrompts() {
  let conn;
  try {
    conn = await connect('default');
  } catch (e) {
    fail('resources/prompts: initialize', e);
    return;
  }
  const c = conn.client;
  const before = failed;
  try {
    const resources = await listAll((p, o) => c.listResources(p, o), 'resources');
    if (resources.length) pass();
    else fail('resources/list', 'no resources');
    const templates = await listAll((p, o) => c.listResourceTemplates(p, o), 'resourceTemplates');
    if (templates.length) pass();
    else fail('resources/templates/list', 'no templates');
    const prompts = await listAll((p, o) => c.listPrompts(p, o), 'prompts');
    if (prompts.length) pass();
    else fail('prompts/list', 'no prompts');

    for (const r of resources) {
      try {
        const res = await c.readResource({ uri: r.uri }, { timeout: REQUEST_TIMEOUT_MS });
        const problem = contentsProblem(res.contents, r.uri);
        if (problem) fail(`resources/read ${r.uri}`, problem);
        else pass();
      } catch (e) {
        fail(`resources/read ${r.uri}`, e);
      }
    }
    for (const p of prompts) {
      const args = {};
      for (const a of p.arguments ?? []) if (a.required) args[a.name] = a.name === 'repo_path' ? repo : `dummy-${a.name}`;
      try {
        const res = await c.getPrompt({ name: p.name, arguments: args }, { timeout: REQUEST_TIMEOUT_MS });
        if (Array.isArray(res.messages) && res.messages.length) pass();
        else fail(`prompts/get ${p.name}`, 'no messages');
      } catch (e) {
        fail(`prompts/get ${p.name}`, e);
      }
    }
    if (failed === before) {
      group(
        `default toolset: ${resources.length} resources read, ${templates.length} templates, ${prompts.length} prompts fetched`,
      );
    }
  } catch (e) {
    fail('resources/prompts', e);
  } finally {
    await disconnect(conn);
  }
}

function contentsProblem(contents, uri) {
  if (!Array.isArray(contents) || contents.length === 0) return 'no contents';
  for (const item of contents) {
    if (typeof item.text !== 'string' && typeof item.blob !== 'string') return 'an item has neither text nor blob';
    if (item.uri !== uri) return `item uri ${item.uri} differs from ${uri}`;
    if (typeof item.text === 'string' && item.mimeType === 'application/json') {
      try {
        JSON.parse(item.text);
      } catch (e) {
        return `mimeType application/json but text is not JSON: ${e.message}`;
      }
    }
  }
  return null;
}

// ---------------------------------------------------------------------------------------------
// 4. Lifecycle through tools on the all-toolsets server.

async function checkLifecycle() {
  let conn;
  try {
    conn = await connect(ALL);
  } catch (e) {
    fail('lifecycle: initialize', e);
    return;
  }
  const c = conn.client;
  const before = failed;
  const ajv = newAjv();
  const validators = new Map();
  let calls = 0;

  try {
    const { tools, sdkOk } = await listTools(c, 'lifecycle');
    for (const t of tools) {
      if (t.outputSchema) {
        try {
          validators.set(t.name, ajv.compile(t.outputSchema));
        } catch {
          // reported by the toolset checks
        }
      }
    }
    if (!sdkOk) console.log(`${TAG} note lifecycle continues with output schemas from a raw tools/list`);

    /** A successful tools/call whose structuredContent matches the tool's outputSchema. */
    async function call(name, args) {
      calls += 1;
      let res;
      conn.lastResult = null;
      try {
        res = await c.callTool({ name, arguments: args }, undefined, { timeout: REQUEST_TIMEOUT_MS });
      } catch (e) {
        const sent = conn.lastResult?.isError ? `; the server sent an isError result: ${JSON.stringify(conn.lastResult.structuredContent ?? conn.lastResult.content)}` : '';
        fail(`${name}`, `tools/call threw: ${e.message}${sent}`);
        return null;
      }
      if (res.isError) {
        fail(`${name}`, `isError result: ${JSON.stringify(res.structuredContent ?? res.content)}`);
        return null;
      }
      const sc = res.structuredContent;
      if (sc === null || typeof sc !== 'object' || Array.isArray(sc)) {
        fail(`${name}`, 'no structuredContent object');
        return null;
      }
      const validate = validators.get(name);
      if (!validate) {
        fail(`${name}`, 'no compiled outputSchema for this tool');
        return null;
      }
      if (!validate(sc)) {
        fail(`${name}`, `structuredContent does not match outputSchema: ${ajv.errorsText(validate.errors)}`);
        return null;
      }
      pass();
      return sc;
    }
    /** An assertion about a result; counted separately from the schema check. */
    function expect(what, ok, detail) {
      if (ok) pass();
      else fail(what, detail);
    }

    const inv = await call('get_inventory', {});
    if (inv) {
      const ids = (inv.providers ?? []).map((p) => p.provider_id ?? p.id);
      expect('get_inventory', ids.includes('fake-question'), `fake-question not among providers ${ids}`);
    }

    const spawned = await call('spawn_worker', {
      provider_id: 'fake-question',
      repo_path: repo,
      task: 'Answer the question you are asked, then finish. (AgentPool MCP SDK conformance test)',
    });
    const sid = spawned?.session_id;
    if (!sid) {
      fail('lifecycle', 'spawn_worker gave no session_id; the rest of the lifecycle is skipped');
      return;
    }

    async function waitFor(event) {
      for (let i = 0; i < 6; i += 1) {
        const o = await call('observe_worker', { session_id: sid, wait_for: [event], timeout_seconds: 20 });
        if (!o) return null;
        if (o.event === event) return o;
      }
      fail(`observe_worker`, `no ${event} event after 6 waits`);
      return null;
    }

    const q = await waitFor('question');
    if (q) expect('observe_worker question', q.state === 'AWAITING_USER_INPUT', `state ${q.state}`);

    // Leases need an active session: take one while the worker waits for its answer.
    const lease = await call('acquire_file_lease', { session_id: sid, file_path: 'README.md', mode: 'write' });
    const leases = await call('list_file_leases', { session_id: sid });
    if (leases) expect('list_file_leases', (leases.leases ?? []).length === 1, `${(leases.leases ?? []).length} leases`);
    const leaseId = lease?.lease?.id ?? lease?.lease?.lease_id;
    const released = await call('release_file_lease', leaseId !== undefined ? { lease_id: leaseId } : { session_id: sid });
    if (released) expect('release_file_lease', released.ok === true, `ok is ${released.ok}`);
    const sent = await call('send_worker_message', { session_id: sid, message: 'Go ahead with the default.' });
    if (sent) expect('send_worker_message', sent.ok === true, `ok is ${sent.ok}`);
    const done = await waitFor('completed');
    if (done) expect('observe_worker completed', done.state === 'COMPLETED', `state ${done.state}`);

    const polled = await call('poll_worker', { session_id: sid });
    if (polled) expect('poll_worker', polled.session_id === sid, `session_id ${polled.session_id}`);
    await call('attach_info', { session_id: sid });

    const collected = await call('collect_worker_artifacts', { session_id: sid });
    if (collected) {
      const n = Array.isArray(collected.artifacts) ? collected.artifacts.length : Object.keys(collected.artifacts ?? {}).length;
      expect('collect_worker_artifacts', n > 0, 'no artifacts');
    }
    const manifest = await call('get_artifact_manifest', { session_id: sid });
    if (manifest) expect('get_artifact_manifest', manifest.session_id === sid, `session_id ${manifest.session_id}`);
    const transcript = await call('read_worker_transcript', { session_id: sid });
    if (transcript) expect('read_worker_transcript', transcript.session_id === sid, `session_id ${transcript.session_id}`);

    // The session's resources (templates) resolve for a real session.
    for (const uri of [`agentpool://sessions/${sid}/transcript`, `agentpool://sessions/${sid}/events`, `agentpool://artifacts/${sid}`]) {
      try {
        const res = await c.readResource({ uri }, { timeout: REQUEST_TIMEOUT_MS });
        const problem = contentsProblem(res.contents, uri);
        if (problem) fail(`resources/read ${uri}`, problem);
        else pass();
      } catch (e) {
        fail(`resources/read ${uri}`, e);
      }
    }

    const listed = await call('list_sessions', {});
    if (listed) {
      const ids = (listed.sessions ?? []).map((s) => s.id ?? s.session_id);
      expect('list_sessions', ids.includes(sid), `${sid} not in ${ids}`);
    }
    const got = await call('get_session', { session_id: sid });
    const gotId = got?.session?.id ?? got?.session?.session_id;
    if (got) expect('get_session', gotId === sid, `session.id ${gotId}`);

    // The other toolsets' tools, read-only or confined to the temp home and scratch repository.
    await call('list_worktrees', { repo_path: repo });
    await call('get_usage_summary', {});
    await call('get_cached_usage_snapshot', {});
    await call('get_usage_snapshot', { provider_id: 'fake-question' });
    await call('get_provider_models', { provider_id: 'fake-question' });
    await call('get_delegation_preferences', {});
    await call('validate_model_catalog', {});
    await call('filter_candidates', {});
    await call('get_stats', {});
    await call('get_stats_card', {});

    const t1 = await call('terminate_worker', { session_id: sid, reason: 'sdk conformance test done' });
    if (t1) expect('terminate_worker', t1.ok === true, `ok is ${t1.ok}`);
    const t2 = await call('terminate_worker', { session_id: sid });
    if (t2) {
      expect(
        'terminate_worker (again)',
        t2.ok === true && t2.already_terminated === true,
        `ok ${t2.ok}, already_terminated ${t2.already_terminated}`,
      );
    }

    // A failure is an isError result whose text is the envelope {"error": {code, message,
    // details}}, without structuredContent. Read it with Client.callTool itself, as hosts do:
    // SDK 1.32.x checks an error's structuredContent against the tool's success schema and
    // throws -32602 (typescript-sdk#1943), which would hide the envelope from the host.
    calls += 1;
    const unknown = { name: 'get_session', arguments: { session_id: 'ap_000000000000' } };
    try {
      const r = await c.callTool(unknown, undefined, { timeout: REQUEST_TIMEOUT_MS });
      let err;
      try {
        err = JSON.parse(r.content?.[0]?.text ?? 'null')?.error;
      } catch {
        err = undefined;
      }
      expect(
        'get_session (unknown id)',
        r.isError === true && r.structuredContent === undefined && err?.code === 'SESSION_NOT_FOUND' &&
          typeof err?.message === 'string' && 'details' in err,
        `expected an isError result whose text is {"error": {code: SESSION_NOT_FOUND, message, details}}, got ${JSON.stringify(r)}`,
      );
    } catch (e) {
      fail('get_session (unknown id)', `Client.callTool threw instead of returning the error: ${oneLine(e).slice(0, 200)}`);
    }

    if (failed === before) group(`lifecycle: ${calls} tool calls, every structuredContent matches its outputSchema`);
    else console.log(`${TAG} --   lifecycle: ${calls} tool calls, ${failed - before} failed check(s)`);
  } catch (e) {
    fail('lifecycle', e);
  } finally {
    await disconnect(conn);
  }
}

// ---------------------------------------------------------------------------------------------

async function main() {
  if (!fs.existsSync(bin)) {
    fail('setup', `no agentpool binary at ${bin} (build it: cargo build -p agentpool-cli)`);
    return;
  }
  makeRepo();
  await checkToolsets();
  await checkResourcesAndPrompts();
  await checkLifecycle();
}

function finish(code) {
  cleanup();
  console.log(`RESULT passed=${passed} failed=${failed}`);
  process.exit(code ?? (failed ? 1 : 0));
}

const timer = setTimeout(() => {
  fail('timeout', `the TypeScript client did not finish within ${OVERALL_TIMEOUT_MS / 1000} s`);
  finish(1);
}, OVERALL_TIMEOUT_MS);
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    fail('interrupted', sig);
    finish(1);
  });
}

main()
  .catch((e) => fail('client', e?.stack ?? e))
  .finally(() => {
    clearTimeout(timer);
    finish();
  });
