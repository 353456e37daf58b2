//! Command implementations: each turns parsed arguments into a call on the core `Pool`
//! and returns typed output for both JSON and human rendering.

use std::io::Read;
use std::path::PathBuf;
use std::sync::Arc;

use agentpool_core::api::{Attach, Spawned};
use agentpool_core::api::{SpawnRequest, parse_detail};
use agentpool_core::config::Settings;
use agentpool_core::error::{Error, ErrorCode, Result};
use agentpool_core::model::{Isolation, PromptMode, Role, Supervision};
use agentpool_core::pool::{Pool, PoolOptions};
use agentpool_core::provider::Registry;
use agentpool_core::session::collect::collect_payload;
use agentpool_core::session::observe::{ObserveOptions, parse_timeout};
use agentpool_core::util;
use agentpool_tmux::{TmuxOptions, TmuxRuntime};
use serde_json::{Value, json};

use crate::args::*;
use crate::output::{self, Out};

/// Everything a command needs, built once per invocation.
pub struct Context {
    pub manager: Pool,
}

impl Context {
    /// Loads settings, the registry and the tmux runtime.
    pub fn load() -> Result<Self> {
        Self::load_as(None)
    }

    /// [`Self::load`], acting as the coordinator named by `--coordinator-id` (else
    /// `$AGENTPOOL_COORDINATOR_ID`, else `default`).
    pub fn load_as(coordinator_flag: Option<&str>) -> Result<Self> {
        agentpool_providers::link_all();
        let settings = Settings::load()?;
        let principal = agentpool_core::scope::Principal::cli(coordinator_flag, &settings)?;
        let registry = Registry::new(&settings)?;
        let runtime = Arc::new(tmux_runtime(&settings));
        let self_exe = std::env::current_exe().unwrap_or_else(|_| PathBuf::from("agentpool"));
        let manager = Pool::new(settings, registry, runtime, PoolOptions { principal, self_exe })?;
        Ok(Self { manager })
    }

    /// Whether worker text is withheld from outputs (see `agentpool_core::scope`).
    pub fn lockdown(&self) -> bool {
        self.manager.principal().lockdown
    }
}

/// The tmux runtime the settings describe.
pub fn tmux_runtime(settings: &Settings) -> TmuxRuntime {
    let t = &settings.config.runtime.tmux;
    TmuxRuntime::new(TmuxOptions {
        binary: t.binary.clone(),
        socket: settings.tmux_socket.clone(),
        config_file: settings.paths.home.join("tmux.conf"),
        width: t.width,
        height: t.height,
    })
}

fn parse_enum<T: std::str::FromStr>(field: &str, raw: &str, allowed: Vec<&'static str>) -> Result<T> {
    raw.trim().to_ascii_lowercase().parse::<T>().map_err(|_| {
        Error::new(
            ErrorCode::InvalidRequest,
            format!("`{raw}` is not a valid {field}; use one of: {}", allowed.join(", ")),
        )
        .with("errors", json!([{"loc": [field], "msg": "invalid value", "input": raw}]))
        .with("allowed", allowed)
    })
}

fn read_stdin(what: &str, example: &str) -> Result<String> {
    let mut buf = String::new();
    std::io::stdin().read_to_string(&mut buf).map_err(|e| Error::io("could not read stdin", &e))?;
    let trimmed = buf.trim();
    if trimmed.is_empty() {
        return Err(
            Error::new(ErrorCode::InvalidStdin, format!("no {what} was provided on stdin")).with("example", example)
        );
    }
    Ok(trimmed.to_owned())
}

pub async fn providers(ctx: &Context) -> Result<Out> {
    let ids = ctx.manager.registry().ids();
    let prefs = ctx.manager.preferences_ref();
    let human = format!("{}\npreferences: {}\n", ids.join("\n"), prefs.path);
    Ok(Out::new(json!({"providers": ids, "preferences": prefs}), human))
}

/// `inventory [--all]`: the built-in fakes only with `--all` (or when enabled explicitly).
pub async fn inventory(ctx: &Context, all: bool) -> Result<Out> {
    let inv = ctx.manager.inventory(true, all).await?;
    let mut human = output::table(
        &["PROVIDER", "INSTALLED", "VERSION", "AUTH", "USAGE"],
        inv.providers
            .iter()
            .map(|p| {
                vec![
                    p.id.clone(),
                    if p.installed { "yes".into() } else { "no".into() },
                    p.version.clone().unwrap_or_else(|| "-".into()),
                    p.auth.status.to_string(),
                    p.usage.as_ref().map_or("-".into(), |u| u.status.to_string()),
                ]
            })
            .collect(),
    );
    let tmux = inv.runtimes.first().and_then(|r| r.path.as_deref()).unwrap_or("missing");
    human.push_str(&format!("tmux: {tmux}\n"));
    Ok(Out::typed(&inv, human))
}

pub async fn spawn(ctx: &Context, a: SpawnArgs) -> Result<Out> {
    let example = "cat task.md | agentpool spawn --provider <provider-id> --repo . --task-stdin";
    let task = match (a.task, a.task_stdin) {
        (Some(_), true) => {
            return Err(Error::new(
                ErrorCode::InvalidRequest,
                "give the task with either --task or --task-stdin, not both",
            )
            .with("example", example));
        }
        (Some(t), false) => t,
        (None, true) => read_stdin("task", example)?,
        (None, false) => {
            return Err(Error::new(ErrorCode::InvalidRequest, "missing worker task: pass --task or --task-stdin")
                .with("example", example));
        }
    };
    let mut req = SpawnRequest::new(a.provider, task, a.repo);
    req.role = parse_enum::<Role>("role", &a.role, Role::names())?;
    req.isolation = parse_enum::<Isolation>("isolation", &a.isolation, Isolation::names())?;
    req.supervision = parse_enum::<Supervision>("supervision", &a.supervision, Supervision::names())?;
    req.initial_prompt_mode =
        parse_enum::<PromptMode>("initial_prompt_mode", &a.initial_prompt_mode, PromptMode::names())?;
    req.model = a.model;
    req.account = a.account;
    req.runtime = a.runtime;
    req.allowed_files = a.allowed_files;
    req.max_runtime_seconds = a.max_runtime_seconds;
    req.max_turns = a.max_turns;
    req.reasoning_effort = a.reasoning_effort;
    req.service_tier = a.service_tier;
    req.env = a.env.into_iter().collect();
    spawned(ctx.manager.spawn(req).await?)
}

/// `resume`: a new worker continuing an ended session's conversation.
pub async fn resume(ctx: &Context, a: ResumeArgs) -> Result<Out> {
    let result = ctx.manager.resume(&a.session_id, a.task.as_deref()).await?;
    let mut out = spawned(result)?;
    out.human = format!("resumed_from: {}\n{}", a.session_id, out.human);
    Ok(out)
}

/// The output of a spawn (or resume).
fn spawned(result: Spawned) -> Result<Out> {
    let s = &result.session;
    let mut human = format!("session: {}\nprovider: {}\n", s.id, s.provider_id);
    if let Some(m) = &s.model {
        human.push_str(&format!("model: {m}\n"));
    }
    human.push_str(&format!("state: {}\nattach: {}\nartifacts: {}\n", s.state, result.attach_command, s.artifact_dir));
    if let Some(w) = &s.worktree_path {
        human.push_str(&format!("worktree: {w}\n"));
    }
    Ok(Out::typed(&result, human))
}

pub async fn observe(ctx: &Context, a: ObserveArgs) -> Result<Out> {
    let detail = parse_detail(&a.detail)?;
    let timeout = parse_timeout(a.timeout)?;
    let opts = ObserveOptions {
        wait_for: a.wait_for.into_iter().collect(),
        timeout,
        max_lines: a.max_lines.map(|n| n.min(100_000)),
        include_screen: detail != agentpool_core::model::Detail::Summary,
        include_recent_log: false,
    };
    let resp = ctx.manager.observe(&a.session_id, opts).await?;
    let lockdown = ctx.lockdown();
    let payload = ctx.manager.observe_payload(&resp, detail, lockdown);
    let mut human = format!(
        "session: {}\nstate: {}\nevent: {}\nreadiness: {}\n",
        resp.session_id,
        resp.state,
        resp.event,
        resp.metadata.get("readiness").and_then(Value::as_str).unwrap_or("-")
    );
    if let Some(q) = resp.parsed_question.as_ref().filter(|_| !lockdown) {
        human.push_str(&format!("question: {q}\n"));
    }
    if let Some(screen) = resp.screen_excerpt.as_ref().filter(|_| !lockdown) {
        human.push_str("--- worker output ---\n");
        human.push_str(screen);
        if !screen.ends_with('\n') {
            human.push('\n');
        }
    }
    if let Some(path) = a.output {
        let path = agentpool_core::config::absolute(&path);
        let text = serde_json::to_string_pretty(&payload).unwrap_or_default() + "\n";
        util::write_output_file(&path, text.as_bytes())?;
        let mut with_path = serde_json::Map::new();
        with_path.insert("output_path".into(), json!(path));
        if let Value::Object(m) = serde_json::to_value(&payload).unwrap_or_default() {
            with_path.extend(m);
        }
        return Ok(Out::new(Value::Object(with_path), format!("{}\n", path.display())));
    }
    Ok(Out::typed(&payload, human))
}

pub async fn send(ctx: &Context, a: SendArgs) -> Result<Out> {
    let example = "agentpool send <session-id> \"Continue.\"";
    let message = match (a.message, a.stdin) {
        (Some(_), true) => {
            return Err(Error::new(
                ErrorCode::InvalidRequest,
                "give the message as an argument or with --stdin, not both",
            )
            .with("example", example));
        }
        (Some(m), false) => m,
        (None, true) => read_stdin("message", "echo \"Continue.\" | agentpool send <session-id> --stdin")?,
        (None, false) => {
            return Err(Error::new(ErrorCode::InvalidRequest, "missing message (use \"\" to press Enter)")
                .with("example", example));
        }
    };
    if message.len() > 1_000_000 {
        return Err(Error::new(ErrorCode::InvalidRequest, "message is larger than 1 MB").with("bytes", message.len()));
    }
    let r = ctx.manager.send(&a.session_id, &message).await?;
    let human = match &r.selected_option {
        Some(o) => format!(
            "selected option {}. {} in {} (event {})\n",
            o.number.map_or_else(|| "-".to_owned(), |n| n.to_string()),
            o.text,
            a.session_id,
            r.event_id
        ),
        None => format!("sent to {} (event {})\n", a.session_id, r.event_id),
    };
    Ok(Out::typed(&r, human))
}

pub async fn keys(ctx: &Context, a: KeysArgs) -> Result<Out> {
    let r = ctx.manager.keys(&a.session_id, &a.keys).await?;
    Ok(Out::typed(&r, format!("sent keys {} to {}\n", a.keys.join(" "), a.session_id)))
}

pub async fn interrupt(ctx: &Context, a: InterruptArgs) -> Result<Out> {
    let r = ctx.manager.interrupt(&a.session_id, a.dry_run).await?;
    let human = if a.dry_run {
        format!("session: {}\nwould interrupt: yes\n", a.session_id)
    } else {
        format!("session: {}\ninterrupted: yes\nstate: {}\n", a.session_id, r.state)
    };
    Ok(Out::typed(&r, human))
}

/// `attach`: in a terminal, hands it to the worker's tmux session (switching the current tmux
/// client when it is already on the worker's server); otherwise prints the command.
pub async fn attach(ctx: &Context, a: AttachArgs, json: bool) -> Result<Out> {
    use std::io::IsTerminal;
    let r = ctx.manager.attach(&a.session_id).await?;
    let human = format!("{}\n", r.attach_command);
    let terminal = std::io::stdin().is_terminal() && std::io::stdout().is_terminal();
    if a.print || json || !terminal {
        return Ok(Out::typed(&r, human));
    }
    match attach_client(ctx, &a.session_id, &r).await? {
        AttachClient::Switch(mut switch) => {
            run_switch(&mut switch, &r)?;
            Ok(Out::typed(&r, String::new()))
        }
        AttachClient::Attach(mut client) => {
            if std::env::var_os("TMUX").is_some() {
                eprintln!(
                    "agentpool: attaching inside your tmux session (nested); press the prefix twice, then d, to detach"
                );
            }
            // Hand the terminal over: this process becomes the tmux client.
            use std::os::unix::process::CommandExt;
            let err = client.exec();
            Err(Error::io("could not run tmux attach-session", &err))
        }
    }
}

/// How this terminal reaches a worker's tmux session.
pub enum AttachClient {
    /// Already a client of the worker's server: `switch-client` moves this client over (it
    /// returns at once; detaching returns nowhere, `tmux switch-client -l` goes back).
    Switch(std::process::Command),
    /// `attach-session` as a child that owns the terminal until the user detaches.
    Attach(std::process::Command),
}

/// The tmux client command that attaches this terminal to the worker `r` describes (the
/// result of `Pool::attach`), after checking tmux is installed and the session is alive.
/// `attach` runs it in place of this process; `watch` runs it as a child and comes back.
pub async fn attach_client(ctx: &Context, session_id: &str, r: &Attach) -> Result<AttachClient> {
    let settings = ctx.manager.settings();
    let tmux = settings.config.runtime.tmux.binary.as_deref().unwrap_or("tmux");
    let tmux = agentpool_core::probe::which(tmux).ok_or_else(|| {
        Error::new(ErrorCode::TmuxNotFound, "tmux is not installed, so there is nothing to attach with")
            .with("attach_command", &r.attach_command)
    })?;
    let socket = r.socket.clone().unwrap_or_else(|| settings.tmux_socket.clone());
    let target = format!("={}", r.tmux_session);
    let client = |args: &[&str]| {
        let mut c = std::process::Command::new(&tmux);
        c.arg("-L").arg(&socket).args(args);
        c
    };
    let alive = client(&["has-session", "-t", &target])
        .env_remove("TMUX")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !alive {
        let state = ctx.manager.show(session_id).await.ok().map(|s| s.session.state);
        return Err(Error::new(
            ErrorCode::TmuxSessionNotFound,
            "the worker's tmux session is gone, so there is nothing to attach to; `agentpool collect` shows \
             what it left",
        )
        .with("session_id", session_id)
        .with("state", state)
        .with("example", format!("agentpool collect {session_id}")));
    }
    if same_tmux_server(&socket) {
        return Ok(AttachClient::Switch(client(&["switch-client", "-t", &target])));
    }
    let mut attach = client(&["attach-session", "-t", &target]);
    attach.env_remove("TMUX");
    Ok(AttachClient::Attach(attach))
}

/// Runs a `switch-client` from [`attach_client`].
pub fn run_switch(switch: &mut std::process::Command, r: &Attach) -> Result<()> {
    let status = switch.status().map_err(|e| Error::io("could not run tmux switch-client", &e))?;
    if !status.success() {
        return Err(
            Error::new(ErrorCode::IoFailed, "tmux switch-client failed").with("attach_command", &r.attach_command)
        );
    }
    Ok(())
}

/// Whether this process runs inside a tmux client of the server named `socket` (same socket
/// file as `$TMUX` names).
fn same_tmux_server(socket: &str) -> bool {
    let Some(current) = std::env::var_os("TMUX") else { return false };
    let current = current.to_string_lossy();
    let Some(path) = current.split(',').next().filter(|p| !p.is_empty()) else { return false };
    // tmux keeps `-L <name>` servers at `<TMUX_TMPDIR or /tmp>/tmux-<uid>/<name>`.
    let path = std::path::Path::new(path);
    let dir = std::env::var_os("TMUX_TMPDIR").filter(|d| !d.is_empty()).unwrap_or_else(|| "/tmp".into());
    let in_dir = path.parent().and_then(std::path::Path::parent).and_then(|d| std::fs::canonicalize(d).ok());
    path.file_name().is_some_and(|n| n == socket) && in_dir == std::fs::canonicalize(dir).ok()
}

pub async fn artifacts(ctx: &Context, a: SessionArg) -> Result<Out> {
    let r = ctx.manager.manifest(&a.session_id, true).await?;
    let rows = r
        .files
        .iter()
        .map(|f| {
            let f = &f.item;
            let size = std::fs::metadata(&f.path).map(|m| m.len().to_string()).unwrap_or_else(|_| "-".into());
            vec![f.kind.clone(), size, f.path.clone()]
        })
        .collect();
    let human = format!(
        "session: {}\nartifact_dir: {}\n{}",
        a.session_id,
        r.artifact_dir,
        output::table(&["KIND", "BYTES", "PATH"], rows)
    );
    Ok(Out::typed(&r, human))
}

pub async fn transcript(ctx: &Context, a: TranscriptArgs) -> Result<Out> {
    let r = ctx.manager.transcript(&a.session_id, a.offset, a.limit, a.tail_lines).await?;
    let lockdown = ctx.lockdown();
    let human = if lockdown {
        "worker text withheld: lockdown is on (AGENTPOOL_LOCKDOWN / policy.lockdown)\n".to_owned()
    } else {
        r.text.clone()
    };
    Ok(Out::typed(&agentpool_core::scope::shape_transcript(r, lockdown), human))
}

pub async fn collect(ctx: &Context, a: CollectArgs) -> Result<Out> {
    let detail = parse_detail(&a.detail)?;
    let r = ctx.manager.collect(&a.session_id, true, true, false).await?;
    let summary = r.summary.clone();
    let lockdown = ctx.lockdown();
    let payload = collect_payload(r, detail, lockdown, false);
    let colour = output::colour_enabled();
    let mut human = format!(
        "session: {}\nstate: {}\nartifact_dir: {}\nartifacts: {}\ngit_dirty: {}\n",
        a.session_id,
        output::paint_state(payload.state.as_str(), colour),
        payload.artifact_dir,
        payload.artifacts.len(),
        if payload.git.dirty { "yes" } else { "no" },
    );
    if detail != agentpool_core::model::Detail::Summary && !lockdown {
        human.push_str("--- result ---\n");
        human.push_str(summary.trim_end());
        human.push('\n');
    }
    // What changed, from the diff just collected (read line by line).
    let diff = payload
        .artifacts
        .iter()
        .find(|f| f.item.kind == "diff")
        .and_then(|f| std::fs::File::open(&f.item.path).ok())
        .map(|f| output::diffstat(std::io::BufReader::new(f)))
        .unwrap_or_default();
    if !diff.is_empty() {
        human.push_str("--- changed files ---\n");
        human.push_str(&output::render_diffstat(&diff, colour));
    }
    Ok(Out::typed(&payload, human))
}

pub async fn terminate(ctx: &Context, a: TerminateArgs) -> Result<Out> {
    let r = ctx.manager.terminate(&a.session_id, None, a.dry_run).await?;
    let yn = |b: bool| if b { "yes" } else { "no" };
    let human = format!(
        "session: {}\nstate: {}\n{}: {}\nalready_terminated: {}\n",
        a.session_id,
        r.state,
        if a.dry_run { "would_terminate" } else { "terminated_runtime" },
        yn(r.would_terminate_runtime),
        yn(r.already_terminated),
    );
    Ok(Out::typed(&r, human))
}

pub async fn sessions(ctx: &Context, a: SessionsArgs, json_mode: bool) -> Result<Out> {
    if json_mode && a.plain {
        return Err(Error::new(ErrorCode::InvalidOutput, "use either --json or --plain, not both")
            .with("example", "agentpool sessions --json"));
    }
    let (limit, offset) = match (a.recent, a.all) {
        (Some(_), true) => {
            return Err(Error::new(ErrorCode::InvalidSessionPage, "use either --recent or --all, not both"));
        }
        (Some(n), false) => (Some(n), 0),
        (None, true) => (None, a.offset),
        (None, false) => (Some(a.limit), a.offset),
    };
    let states = a.state.map(|s| s.split(',').map(str::to_owned).collect());
    let scope = agentpool_core::scope::parse_scope(&a.scope)?;
    let r = ctx.manager.list_in_scope(states, a.provider, limit, offset, scope).await?;
    let human = if a.plain {
        output::plain_sessions(&r)
    } else {
        let colour = output::colour_enabled();
        let now = time::OffsetDateTime::now_utc();
        let rows = r
            .sessions
            .iter()
            .map(|s| {
                vec![
                    s.id.clone(),
                    s.provider_id.clone(),
                    output::paint_state(s.state.as_str(), colour),
                    s.role.to_string(),
                    output::relative_age(&s.created_at, now),
                ]
            })
            .collect();
        format!(
            "{}{} of {} sessions\n",
            output::table(&["ID", "PROVIDER", "STATE", "ROLE", "CREATED"], rows),
            r.pagination.count,
            r.pagination.total
        )
    };
    Ok(Out::typed(&r, human))
}

pub async fn session_show(ctx: &Context, session_id: &str, plain: bool, json_mode: bool) -> Result<Out> {
    if json_mode && plain {
        return Err(Error::new(ErrorCode::InvalidOutput, "use either --json or --plain, not both")
            .with("example", "agentpool session show <session-id> --json"));
    }
    let r = ctx.manager.show(session_id).await?;
    let s = serde_json::to_value(&r.session).unwrap_or_default();
    let keys = ["id", "provider_id", "model", "state", "role", "repo_path", "worktree_path", "created_at", "ended_at"];
    let human = keys
        .iter()
        .map(|k| {
            let v = match &s[*k] {
                Value::String(v) => v.clone(),
                Value::Null => String::new(),
                other => other.to_string(),
            };
            if plain { format!("session.{k}={v}\n") } else { format!("{k}: {v}\n") }
        })
        .collect();
    Ok(Out::typed(&r, human))
}

pub async fn smoke(ctx: &Context, a: SmokeArgs) -> Result<Out> {
    let timeout = parse_timeout(a.timeout)?;
    let opts = agentpool_core::smoke::SmokeOptions {
        provider_id: a.provider,
        repo: a.repo,
        model: a.model,
        timeout,
        real_read_only: a.real_read_only,
        accept_startup_trust: !a.no_accept_startup_trust,
    };
    let r = ctx.manager.smoke_with(opts).await?;
    let ok = r["ok"] == json!(true);
    let human = format!(
        "smoke {}: {}\nartifacts: {}\n",
        if ok { "ok" } else { "failed" },
        r["session_id"].as_str().unwrap_or(""),
        r["artifact_dir"].as_str().unwrap_or("")
    );
    Ok(Out::new(r, human).failed_if(!ok))
}

/// Runs a built-in worker program (the fakes) in this process.
pub fn worker(provider_id: &str) -> std::process::ExitCode {
    agentpool_providers::link_all();
    let code = agentpool_core::provider::worker(provider_id).map(|run| run());
    match code {
        Some(c) => std::process::ExitCode::from(u8::try_from(c).unwrap_or(1)),
        None => {
            eprintln!("error: `{provider_id}` has no built-in worker");
            std::process::ExitCode::from(2)
        }
    }
}
