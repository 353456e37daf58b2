// Node helpers for run.sh (node is already required by the host CLIs, so no jq is needed).
// Each prints one line: the value, `ok ...`, or `problem: ...` with exit status 1.
//
//   node hosts.mjs realpath PATH
//   node hosts.mjs action < `agentpool mcp-config ... --install --json`    -> installed.action
//   node hosts.mjs codex-entry BIN POOL SOCKET TMUXDIR < `codex mcp get agentpool --json`
//   node hosts.mjs app-server TIMEOUT_MS TOOLS
//       drives `codex app-server` (found on PATH) over stdio; its `agentpool` server must list
//       TOOLS tools and report no toolsError.
import { spawn } from "node:child_process";
import fs from "node:fs";
import readline from "node:readline";

const [cmd, ...args] = process.argv.slice(2);

function stdinJson() {
  const text = fs.readFileSync(0, "utf8");
  try {
    return JSON.parse(text);
  } catch (e) {
    problem(`not JSON (${e.message}): ${text.slice(0, 300)}`);
  }
}

function problem(msg) {
  console.log(`problem: ${msg}`);
  process.exit(1);
}

const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);
const sorted = (o) => Object.fromEntries(Object.entries(o ?? {}).sort(([a], [b]) => a.localeCompare(b)));

switch (cmd) {
  case "realpath":
    console.log(fs.realpathSync(args[0]));
    break;

  case "action": {
    const doc = stdinJson();
    const action = doc?.installed?.action;
    if (typeof action !== "string") problem(`no installed.action in ${JSON.stringify(doc).slice(0, 300)}`);
    console.log(action);
    break;
  }

  case "codex-entry": {
    const [bin, pool, socket, tmuxdir] = args;
    const e = stdinJson();
    const t = e?.transport ?? {};
    const want = { AGENTPOOL_HOME: pool, AGENTPOOL_TMUX_SOCKET: socket, TMUX_TMPDIR: tmuxdir };
    const issues = [];
    if (e?.name !== "agentpool") issues.push(`name ${JSON.stringify(e?.name)}`);
    if (e?.enabled !== true) issues.push(`enabled ${JSON.stringify(e?.enabled)}`);
    if (t.type !== "stdio") issues.push(`transport.type ${JSON.stringify(t.type)}`);
    if (t.command !== bin) issues.push(`command ${JSON.stringify(t.command)} (want ${bin})`);
    if (!same(t.args, ["mcp"])) issues.push(`args ${JSON.stringify(t.args)}`);
    if (!same(sorted(t.env), sorted(want))) issues.push(`env ${JSON.stringify(t.env)} (want ${JSON.stringify(want)})`);
    if (e?.startup_timeout_sec !== 10) issues.push(`startup_timeout_sec ${e?.startup_timeout_sec}`);
    if (e?.tool_timeout_sec !== 300) issues.push(`tool_timeout_sec ${e?.tool_timeout_sec}`);
    if (issues.length) problem(issues.join("; "));
    console.log("ok command, args, env and timeouts as written");
    break;
  }

  case "app-server":
    appServer(Number(args[0] || 45000), Number(args[1]));
    break;

  default:
    problem(`unknown subcommand ${cmd}`);
}

// `codex app-server` speaks JSON-RPC lines on stdio (schema: `codex app-server generate-json-schema`):
// `initialize` -> response, `initialized` notification, then `mcpServerStatus/list`, which starts
// every configured MCP server and returns its tools, resources, templates and any `toolsError`.
function appServer(timeoutMs, wantTools) {
  const child = spawn("codex", ["app-server"], { stdio: ["pipe", "pipe", "pipe"] });
  let stderr = "";
  let done = false;
  child.stderr.on("data", (d) => {
    stderr = (stderr + d).slice(-2000);
  });
  const finish = (line, code) => {
    if (done) return;
    done = true;
    process.exitCode = code; // also when node ends on its own (codex never started)
    clearTimeout(timer);
    console.log(line);
    child.stdin.end();
    child.kill("SIGTERM");
    const hard = setTimeout(() => child.kill("SIGKILL"), 5000);
    child.on("exit", () => {
      clearTimeout(hard);
      process.exit(code);
    });
    if (child.exitCode !== null || child.signalCode !== null) process.exit(code);
  };
  const timer = setTimeout(
    () => finish(`problem: no mcpServerStatus/list answer within ${timeoutMs} ms; stderr: ${stderr.replace(/\s+/g, " ").slice(-400)}`, 1),
    timeoutMs,
  );
  child.on("error", (e) => finish(`problem: could not start codex app-server: ${e.message}`, 1));
  child.on("exit", (code, signal) => {
    if (!done) finish(`problem: codex app-server exited (${code ?? signal}) early; stderr: ${stderr.replace(/\s+/g, " ").slice(-400)}`, 1);
  });
  const send = (m) => child.stdin.write(`${JSON.stringify(m)}\n`);
  readline.createInterface({ input: child.stdout }).on("line", (line) => {
    let m;
    try {
      m = JSON.parse(line);
    } catch {
      return; // not a protocol line
    }
    if (m.id === 1) {
      if (m.error) return finish(`problem: initialize failed: ${JSON.stringify(m.error)}`, 1);
      send({ method: "initialized" });
      send({ id: 2, method: "mcpServerStatus/list", params: {} });
    } else if (m.id === 2) {
      if (m.error) return finish(`problem: mcpServerStatus/list failed: ${JSON.stringify(m.error)}`, 1);
      const servers = m.result?.data ?? [];
      const s = servers.find((x) => x.name === "agentpool");
      if (!s) return finish(`problem: no agentpool in mcpServerStatus/list (${servers.map((x) => x.name).join(", ") || "none"})`, 1);
      const tools = Object.keys(s.tools ?? {}).sort();
      const counts = `${tools.length} tools, ${(s.resources ?? []).length} resources, ${(s.resourceTemplates ?? []).length} templates`;
      const issues = [];
      if (s.toolsError) issues.push(`toolsError: ${s.toolsError}`);
      if (s.serverInfo?.name !== "agentpool") issues.push(`serverInfo.name ${JSON.stringify(s.serverInfo?.name)}`);
      if (tools.length !== wantTools) issues.push(`${tools.length} tools, want ${wantTools}: ${tools.join(" ") || "none"}`);
      if (issues.length) return finish(`problem: ${issues.join("; ")} (${counts})`, 1);
      finish(`ok ${counts}, no toolsError`, 0);
    } else if (m.id !== undefined && m.method) {
      // A request from the server (an approval, say): this client supports none.
      send({ id: m.id, error: { code: -32601, message: "not supported by this test client" } });
    }
  });
  send({ id: 1, method: "initialize", params: { clientInfo: { name: "agentpool-mcp-hosts", version: "1" } } });
}
