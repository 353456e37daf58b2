// AgentPool's opencode plugin, written per worker by AgentPool and loaded through the worker's
// OPENCODE_CONFIG_CONTENT. It listens to opencode's own bus (the events its `/event` stream
// carries) and hands the ones that speak to a turn to `agentpool __signal opencode event <log>`,
// one JSON document on stdin each, in the order they happened. It opens no socket, and a failed
// report never disturbs opencode: the screen still speaks for the worker.
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";

const COMMAND = __AGENTPOOL_SIGNAL_COMMAND__;
// `agentpool resume`: the session to continue and the file holding the task. opencode 1.18
// ignores `--prompt` beside `--session`, so the plugin submits the task to that session.
const RESUME = __AGENTPOOL_RESUME__;
const TIMEOUT_MS = 15000;
const REPLY_LIMIT = 65536;

export const AgentPoolSignals = async ({ client }) => {
  let chain = Promise.resolve();
  const report = (doc) => {
    const payload = JSON.stringify(doc);
    chain = chain.then(
      () =>
        new Promise((resolve) => {
          const timer = setTimeout(resolve, TIMEOUT_MS);
          const done = () => {
            clearTimeout(timer);
            resolve();
          };
          try {
            const child = spawn(COMMAND[0], COMMAND.slice(1), { stdio: ["pipe", "ignore", "ignore"] });
            child.on("error", done);
            child.on("close", done);
            child.stdin.on("error", () => {});
            child.stdin.end(payload);
          } catch {
            done();
          }
        }),
    );
  };

  // opencode has no sign-in screen: without a usable provider it only opens a "Connect a
  // provider" dialog. Ask it once it serves (a few tries), and say so.
  const checkProviders = async (tries) => {
    try {
      const r = await client.config.providers();
      if (r && r.data && Array.isArray(r.data.providers)) {
        if (r.data.providers.length === 0) report({ type: "providers.none" });
        return;
      }
    } catch {
      // not serving yet
    }
    if (tries > 1) setTimeout(() => checkProviders(tries - 1), 3000);
  };
  setTimeout(() => checkProviders(5), 2000);

  const resume = async (tries) => {
    try {
      const text = readFileSync(RESUME.prompt_file, "utf8");
      const r = await client.session.promptAsync({
        path: { id: RESUME.session },
        body: { parts: [{ type: "text", text }] },
      });
      if (r && !r.error) return;
    } catch {
      // not serving yet
    }
    if (tries > 1) setTimeout(() => resume(tries - 1), 3000);
  };
  if (RESUME) setTimeout(() => resume(10), 2000);

  const children = new Set(); // sub-agent sessions: not the conversation AgentPool drives
  const roles = new Map(); // message id -> role
  const replies = new Map(); // session id -> { message, parts: Map(part id -> text) }
  const busy = new Set(); // sessions in a turn
  const failed = new Set(); // sessions whose turn ended in an error

  const lastReply = (session) => {
    const r = replies.get(session);
    if (!r) return undefined;
    const text = [...r.parts.values()].join("\n").trim();
    return text.length > REPLY_LIMIT ? text.slice(text.length - REPLY_LIMIT) : text || undefined;
  };

  return {
    event: async ({ event }) => {
      try {
        const p = event.properties || {};
        const session = p.sessionID || (p.info && p.info.sessionID) || (p.part && p.part.sessionID);
        if (event.type === "session.created" && p.info && p.info.parentID) children.add(p.info.id);
        if (!session || children.has(session)) return;
        switch (event.type) {
          case "session.created":
            report({ type: "session.created", sessionID: session });
            break;
          case "message.updated":
            if (p.info && p.info.id) roles.set(p.info.id, p.info.role);
            break;
          case "message.part.updated": {
            const part = p.part || {};
            if (part.type !== "text" || part.synthetic || roles.get(part.messageID) !== "assistant") break;
            let r = replies.get(session);
            if (!r || r.message !== part.messageID) {
              r = { message: part.messageID, parts: new Map() };
              replies.set(session, r);
            }
            r.parts.set(part.id, part.text || "");
            break;
          }
          case "session.status": {
            const kind = p.status && p.status.type;
            if (kind === "busy" && !busy.has(session)) {
              busy.add(session);
              failed.delete(session);
              replies.delete(session);
              report({ type: "session.busy", sessionID: session });
            } else if (kind === "retry") {
              report({ type: "session.retry", sessionID: session, attempt: p.status.attempt, message: p.status.message });
            }
            break;
          }
          case "session.idle":
            // opencode says idle after an error too (and twice): the error is the turn's end.
            if (busy.delete(session) && !failed.has(session)) {
              report({ type: "session.idle", sessionID: session, last_reply: lastReply(session) });
            }
            break;
          case "session.error": {
            const e = p.error || {};
            const data = e.data || {};
            failed.add(session);
            report({
              type: "session.error",
              sessionID: session,
              name: e.name,
              message: data.message,
              statusCode: data.statusCode,
            });
            break;
          }
          case "permission.asked":
            report({ type: "permission.asked", sessionID: session, permission: p.permission, patterns: p.patterns });
            break;
          case "question.asked":
            report({ type: "question.asked", sessionID: session, questions: p.questions });
            break;
          case "permission.replied":
          case "question.replied":
          case "question.rejected":
            report({ type: event.type, sessionID: session, reply: p.reply });
            break;
        }
      } catch {
        // Never let a report break opencode.
      }
    },
  };
};
