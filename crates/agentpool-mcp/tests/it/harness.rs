//! Test context: the built `agentpool` binary, a temporary home and repository, a private tmux
//! socket killed on drop, and helpers for the rmcp client and a raw line client.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::OnceLock;

use rmcp::model::{
    CallToolRequestParams, CallToolResult, ClientCapabilities, ClientConfig, Implementation, ProtocolVersion,
};
use rmcp::service::RunningService;
use rmcp::transport::TokioChildProcess;
use rmcp::{RoleClient, ServiceExt};
use serde_json::{Map, Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

/// The `agentpool` binary, built once per test run.
pub fn agentpool_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
        let status = std::process::Command::new(cargo)
            .args(["build", "-p", "agentpool-cli", "--bin", "agentpool"])
            .status()
            .expect("cargo runs");
        assert!(status.success(), "building agentpool failed");
        // tests/it binary lives in <target>/debug/deps/
        let exe = std::env::current_exe().expect("test exe path");
        let debug = exe.parent().and_then(Path::parent).expect("target/debug");
        debug.join("agentpool")
    })
}

/// A temporary AgentPool world.
pub struct TestContext {
    pub home: tempfile::TempDir,
    pub repo: tempfile::TempDir,
    pub socket: String,
}

impl TestContext {
    pub fn new(name: &str) -> Self {
        let home = tempfile::tempdir().expect("temp home");
        let repo = tempfile::tempdir().expect("temp repo");
        let socket = format!("apmcp-{name}-{}", std::process::id());
        Self { home, repo, socket }
    }

    /// tmux puts this test's server socket here (`TMUX_TMPDIR`), inside the temporary home,
    /// so no socket file outlives the test.
    fn tmux_tmpdir(&self) -> PathBuf {
        let dir = self.home.path().join("tmux");
        let _ = std::fs::create_dir_all(&dir);
        dir
    }

    pub fn repo_path(&self) -> String {
        self.repo.path().display().to_string()
    }

    /// `agentpool mcp <args>` with this context's environment.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(agentpool_bin());
        cmd.arg("mcp")
            .args(args)
            .env("AGENTPOOL_HOME", self.home.path())
            .env("AGENTPOOL_TMUX_SOCKET", &self.socket)
            .env("TMUX_TMPDIR", self.tmux_tmpdir())
            .env_remove("AGENTPOOL_CONFIG")
            .env_remove("AGENTPOOL_MCP_TOOLSETS")
            .env_remove("AGENTPOOL_MCP_TOOLS")
            .env_remove("AGENTPOOL_MCP_LOCKDOWN")
            .env_remove("AGENTPOOL_LOCKDOWN")
            .env_remove("AGENTPOOL_COORDINATOR_ID")
            .env("NO_COLOR", "1");
        cmd
    }

    /// An rmcp client connected to `agentpool mcp <args>`.
    pub async fn client(&self, args: &[&str]) -> Client {
        client_for(self.command(args)).await
    }

    /// A raw newline-delimited JSON-RPC client (for malformed input).
    pub async fn raw(&self, args: &[&str]) -> Raw {
        self.raw_with_log(args, None).await
    }

    /// A raw client whose server logs at `filter` (`AGENTPOOL_LOG`) into a pipe read by
    /// [`Raw::finish`].
    pub async fn raw_with_log(&self, args: &[&str], filter: Option<&str>) -> Raw {
        let mut cmd = self.command(args);
        if let Some(f) = filter {
            cmd.env("AGENTPOOL_LOG", f);
        }
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(if filter.is_some() { Stdio::piped() } else { Stdio::null() })
            .kill_on_drop(true)
            .spawn()
            .expect("spawn agentpool mcp");
        let stdin = child.stdin.take().expect("stdin");
        let stdout = BufReader::new(child.stdout.take().expect("stdout"));
        let mut raw = Raw { child, stdin, stdout };
        let init = raw
            .request(json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
                "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "raw", "version": "0"}}}))
            .await;
        assert!(init["result"]["serverInfo"].is_object(), "{init}");
        raw.send_line(&json!({"jsonrpc": "2.0", "method": "notifications/initialized"}).to_string()).await;
        raw
    }
}

impl TestContext {
    /// Literal strings replaced in snapshots, longest first.
    fn literal_redactions(&self) -> Vec<(String, &'static str)> {
        agentpool_tests::literal_redactions(self.home.path(), self.repo.path(), &self.socket)
    }

    /// insta settings that redact what changes between runs, with the end-to-end harness's
    /// filters (`agentpool_tests::add_snapshot_filters`) — temp paths, the binary path,
    /// the socket name, session and coordinator ids, tmux names' hex suffix, pane ids,
    /// timestamps, sha256 and repo hashes, fence nonces, process ids and durations.
    pub fn insta_settings(&self) -> insta::Settings {
        let mut s = insta::Settings::clone_current();
        agentpool_tests::add_snapshot_filters(&mut s, self.literal_redactions());
        s
    }
}

impl Drop for TestContext {
    fn drop(&mut self) {
        // Only this test's private tmux server.
        let _ = std::process::Command::new("tmux")
            .env("TMUX_TMPDIR", self.tmux_tmpdir())
            .args(["-L", &self.socket, "kill-server"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

pub type Client = RunningService<RoleClient, ClientConfig>;

/// An rmcp client connected to the server `cmd` starts (see [`TestContext::command`]).
pub async fn client_for(cmd: Command) -> Client {
    let transport = TokioChildProcess::new(cmd).expect("spawn agentpool mcp");
    let config = ClientConfig::new(ClientCapabilities::default(), Implementation::new("agentpool-tests", "0"))
        .with_protocol_version(ProtocolVersion::V_2025_06_18);
    config.serve(transport).await.expect("initialize")
}

/// Calls a tool; returns (is_error, structured content) — for a failure, the error envelope,
/// which comes as the JSON text of an `isError` result without structured content.
pub async fn call(client: &Client, name: &str, args: Value) -> (bool, Value) {
    let r = call_raw(client, name, args).await;
    if r.is_error == Some(true) {
        assert!(r.structured_content.is_none(), "{name}: an error carries no structured content");
        let text = r.content.first().and_then(|c| c.as_text()).map(|t| t.text.clone()).unwrap_or_default();
        return (true, serde_json::from_str(&text).unwrap_or(Value::Null));
    }
    (false, r.structured_content.unwrap_or(Value::Null))
}

/// The error envelope of a raw `tools/call` response (`result.content[0].text`, parsed).
pub fn raw_tool_error(resp: &Value) -> Value {
    let text = resp["result"]["content"][0]["text"].as_str().unwrap_or("null");
    serde_json::from_str(text).unwrap_or(Value::Null)
}

pub async fn call_raw(client: &Client, name: &str, args: Value) -> CallToolResult {
    let Value::Object(map) = args else { panic!("arguments must be an object") };
    client.call_tool(params(name, map)).await.expect("tools/call answered")
}

pub fn params(name: &str, args: Map<String, Value>) -> CallToolRequestParams {
    CallToolRequestParams::new(name.to_owned()).with_arguments(args)
}

/// Calls a tool that must succeed.
pub async fn ok(client: &Client, name: &str, args: Value) -> Value {
    let (is_error, v) = call(client, name, args).await;
    assert!(!is_error, "{name} failed: {v}");
    v
}

/// A raw line-oriented client.
pub struct Raw {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl Raw {
    pub async fn send_line(&mut self, line: &str) {
        self.stdin.write_all(line.as_bytes()).await.expect("write");
        self.stdin.write_all(b"\n").await.expect("write");
        self.stdin.flush().await.expect("flush");
    }

    /// Reads the next message that is a response (skips notifications).
    pub async fn response(&mut self) -> Value {
        loop {
            let mut line = String::new();
            let n = self.stdout.read_line(&mut line).await.expect("read");
            assert!(n > 0, "server closed stdout");
            let v: Value = serde_json::from_str(&line).expect("server writes JSON lines");
            if v.get("id").is_some() {
                return v;
            }
        }
    }

    /// Closes stdin, reads every remaining message and the server's stderr, and waits for the
    /// server to exit.
    pub async fn finish(mut self) -> (Vec<Value>, String) {
        use tokio::io::AsyncReadExt;
        drop(self.stdin);
        let mut rest = String::new();
        self.stdout.read_to_string(&mut rest).await.expect("read stdout");
        let messages = rest
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| serde_json::from_str(l).expect("JSON line"))
            .collect();
        let mut err = String::new();
        if let Some(mut e) = self.child.stderr.take() {
            e.read_to_string(&mut err).await.expect("read stderr");
        }
        let _ = self.child.wait().await;
        (messages, err)
    }

    pub async fn request(&mut self, msg: Value) -> Value {
        self.send_line(&msg.to_string()).await;
        self.response().await
    }
}
