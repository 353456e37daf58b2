//! The tools, one router per toolset (`default`, `sessions`), combined at start-up. Each tool
//! validates its arguments, calls one `Pool` method and shapes the result for agents;
//! lifecycle decisions stay in core.

use std::pin::pin;
use std::time::Duration;

use agentpool_core::agent_io;
use agentpool_core::api;
use agentpool_core::api::SpawnRequest;
use agentpool_core::error::{Error, ErrorCode};
use agentpool_core::model::Detail;
use agentpool_core::session::collect::{collect_payload, gate_manifest};
use agentpool_core::session::observe::ObserveOptions;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{CallToolResult, ProgressNotificationParam};
use rmcp::service::RequestContext;
use rmcp::{ErrorData, RoleServer, tool, tool_router};
use serde_json::{Value, json};

use crate::output;
use crate::params::*;
use crate::server::AgentPoolServer;
use crate::{guard, guides};

/// Longest message accepted by `send_worker_message` (bytes).
const MAX_MESSAGE_BYTES: usize = 1_000_000;
/// Largest transcript page, so a page always fits one fence without clipping.
const MAX_PAGE_BYTES: i64 = 8000;
/// How often a long observe reports progress (when the caller sent a progress token).
const PROGRESS_EVERY: Duration = Duration::from_secs(5);

fn done(r: agentpool_core::Result<CallToolResult>) -> CallToolResult {
    r.unwrap_or_else(output::fail)
}

fn clamp_lines(n: Option<i64>) -> Option<usize> {
    n.map(|n| n.clamp(1, 100_000) as usize)
}

#[tool_router(router = default_tools, vis = "pub(crate)")]
impl AgentPoolServer {
    #[tool(
        name = "get_inventory",
        description = "Coding-agent CLIs: installed, version, auth, models, capabilities, policy, stored usage. Choose provider_id and model here.",
        input_schema = output::input::<InventoryArgs>(),
        output_schema = output::output::<api::Inventory>(),
        annotations(read_only_hint = true, destructive_hint = false, idempotent_hint = true, open_world_hint = false)
    )]
    async fn get_inventory(&self, Parameters(a): Parameters<InventoryArgs>) -> CallToolResult {
        self.manager.inventory(a.include_usage, true).await.map_or_else(output::fail, |r| output::ok(&r))
    }

    #[tool(
        name = "get_provider_models",
        description = "Model catalog per provider: default and smoke model, models, reasoning and tier options, quirks.",
        input_schema = output::input::<ModelsArgs>(),
        output_schema = output::output::<api::Models>(),
        annotations(read_only_hint = true, destructive_hint = false, idempotent_hint = true, open_world_hint = false)
    )]
    async fn get_provider_models(&self, Parameters(a): Parameters<ModelsArgs>) -> CallToolResult {
        self.manager.models(a.provider_id.as_deref()).await.map_or_else(output::fail, |r| output::ok(&r))
    }

    #[tool(
        name = "get_delegation_preferences",
        description = "The user's delegation preferences: which provider and model for what. Read before spawning.",
        input_schema = output::input::<NoArgs>(),
        output_schema = output::output::<api::PreferencesRef>(),
        annotations(read_only_hint = true, destructive_hint = false, idempotent_hint = true, open_world_hint = false)
    )]
    async fn get_delegation_preferences(&self, Parameters(_a): Parameters<NoArgs>) -> CallToolResult {
        let mut v = self.manager.preferences_ref();
        v.text = Some(guides::preferences_text(&self.manager));
        output::ok(&v)
    }

    #[tool(
        name = "spawn_worker",
        description = "Start a worker: explicit provider (never auto), one concrete task, in repo_path. Returns session_id and the tmux attach command.",
        input_schema = output::input::<SpawnArgs>(),
        output_schema = output::output::<api::Spawned>(),
        annotations(read_only_hint = false, destructive_hint = false, idempotent_hint = false, open_world_hint = true)
    )]
    async fn spawn_worker(&self, Parameters(a): Parameters<SpawnArgs>) -> CallToolResult {
        let mut req = SpawnRequest::new(a.provider_id, a.task, a.repo_path);
        req.role = a.role;
        req.model = a.model;
        req.account = a.account;
        req.runtime = a.runtime;
        req.isolation = a.isolation;
        req.allowed_files = a.allowed_files.unwrap_or_default();
        req.max_runtime_seconds = a.max_runtime_seconds;
        req.max_turns = a.max_turns;
        req.supervision = a.supervision;
        req.initial_prompt_mode = a.initial_prompt_mode;
        req.reasoning_effort = a.reasoning_effort;
        req.service_tier = a.service_tier;
        req.metadata = a.metadata.unwrap_or_default();
        req.env = a.env.unwrap_or_default();
        match self.manager.spawn(req).await {
            Ok(v) => output::ok(&v),
            Err(e) if e.code == ErrorCode::InvalidRequest => output::fail(e.with_default("tool", "spawn_worker")),
            Err(e) => output::fail(e),
        }
    }

    #[tool(
        name = "observe_worker",
        description = "Worker state and event; waits for wait_for (question, approval_prompt, completed, error). Worker text only with detail=excerpt|full, fenced as untrusted.",
        input_schema = output::input::<ObserveArgs>(),
        output_schema = output::output::<api::ObserveView>(),
        annotations(read_only_hint = true, destructive_hint = false, idempotent_hint = false, open_world_hint = false)
    )]
    async fn observe_worker(
        &self,
        Parameters(a): Parameters<ObserveArgs>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        let (timeout, guard_meta) = guard::observe_wait(a.timeout_seconds);
        self.observe(
            a.session_id,
            a.wait_for.unwrap_or_default(),
            timeout,
            guard_meta,
            a.detail,
            a.max_lines,
            a.include_recent_log,
            ctx,
        )
        .await
    }

    #[tool(
        name = "poll_worker",
        description = "One capture, no wait: state, event and, by default, the fenced tail of the worker's screen.",
        input_schema = output::input::<PollArgs>(),
        output_schema = output::output::<api::ObserveView>(),
        annotations(read_only_hint = true, destructive_hint = false, idempotent_hint = false, open_world_hint = false)
    )]
    async fn poll_worker(
        &self,
        Parameters(a): Parameters<PollArgs>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        self.observe(
            a.session_id,
            Vec::new(),
            Duration::ZERO,
            Default::default(),
            a.detail,
            a.max_lines,
            a.include_recent_log,
            ctx,
        )
        .await
    }

    #[tool(
        name = "send_worker_message",
        description = "Type and submit a message: answer a question, approve, steer, or start a follow-up turn.",
        input_schema = output::input::<SendArgs>(),
        output_schema = output::output::<api::Sent>(),
        annotations(read_only_hint = false, destructive_hint = false, idempotent_hint = false, open_world_hint = true)
    )]
    async fn send_worker_message(&self, Parameters(a): Parameters<SendArgs>) -> CallToolResult {
        if a.message.len() > MAX_MESSAGE_BYTES {
            return output::fail(
                Error::new(
                    ErrorCode::InvalidRequest,
                    "message is larger than 1 MB; write it to a file and send its path",
                )
                .with("bytes", a.message.len())
                .with("errors", json!([{"loc": ["message"], "msg": "too long"}])),
            );
        }
        done(self.manager.send_with(&a.session_id, &a.message, a.submit).await.map(|v| output::ok(&v)))
    }

    #[tool(
        name = "interrupt_worker",
        description = "Interrupt the worker's current turn with its CLI's own key (Ctrl-C; Escape for Claude Code); the session stays open.",
        input_schema = output::input::<SessionArgs>(),
        output_schema = output::output::<api::Interrupted>(),
        annotations(read_only_hint = false, destructive_hint = false, idempotent_hint = false, open_world_hint = true)
    )]
    async fn interrupt_worker(&self, Parameters(a): Parameters<SessionArgs>) -> CallToolResult {
        done(self.manager.interrupt(&a.session_id, false).await.map(|v| output::ok(&v)))
    }

    #[tool(
        name = "collect_worker_artifacts",
        description = "Save and list artifacts (screen, transcript, result, git status, diff); result text fenced with detail=excerpt|full. Call before terminate_worker.",
        input_schema = output::input::<CollectArgs>(),
        output_schema = output::output::<api::CollectView>(),
        annotations(read_only_hint = false, destructive_hint = false, idempotent_hint = true, open_world_hint = false)
    )]
    async fn collect_worker_artifacts(&self, Parameters(a): Parameters<CollectArgs>) -> CallToolResult {
        let lockdown = self.lockdown;
        let r = self.manager.collect(&a.session_id, a.include_diff, a.include_transcript, a.mark_completed).await;
        done(r.map(|v| output::ok(&collect_payload(v, a.detail, lockdown, lockdown))))
    }

    #[tool(
        name = "get_artifact_manifest",
        description = "Paths, existence and sha256 of a session's artifact files.",
        input_schema = output::input::<SessionArgs>(),
        output_schema = output::output::<api::Manifest>(),
        annotations(read_only_hint = true, destructive_hint = false, idempotent_hint = true, open_world_hint = false)
    )]
    async fn get_artifact_manifest(&self, Parameters(a): Parameters<SessionArgs>) -> CallToolResult {
        let lockdown = self.lockdown;
        done(self.manager.manifest(&a.session_id, false).await.map(|mut v| {
            v.files = gate_manifest(v.files.into_iter().map(|f| f.item).collect(), lockdown);
            output::ok(&v)
        }))
    }

    #[tool(
        name = "read_worker_transcript",
        description = "A byte page or the last tail_lines of the transcript, fenced as untrusted; follow next_offset while has_more.",
        input_schema = output::input::<TranscriptArgs>(),
        output_schema = output::output::<api::TranscriptForAgent>(),
        annotations(read_only_hint = true, destructive_hint = false, idempotent_hint = true, open_world_hint = false)
    )]
    async fn read_worker_transcript(&self, Parameters(a): Parameters<TranscriptArgs>) -> CallToolResult {
        let limit = a.limit.min(MAX_PAGE_BYTES);
        let lockdown = self.lockdown;
        if lockdown {
            return done(self.manager.show(&a.session_id).await.map(|s| {
                output::ok(&api::TranscriptForAgent::Withheld(api::Withheld {
                    session_id: a.session_id.clone(),
                    path: s.session.transcript_path,
                    blocked: true,
                    reason: "lockdown".to_owned(),
                    kind: "transcript".to_owned(),
                }))
            }));
        }
        done(self.manager.transcript(&a.session_id, a.offset, limit, a.tail_lines).await.map(|p| {
            let worker_output = if p.text.is_empty() {
                api::WorkerOutput {
                    included: false,
                    detail: None,
                    reason: Some("no worker output".to_owned()),
                    truncated: None,
                    chars: None,
                    text: None,
                }
            } else {
                let mut page = agent_io::fence_page(&p.text);
                // A tail whose first line was longer than the window starts inside it.
                if p.truncated {
                    page.truncated = Some(true);
                }
                page
            };
            output::ok(&api::TranscriptForAgent::Page(api::TranscriptExcerpt {
                session_id: p.session_id,
                path: p.path,
                exists: p.exists,
                mode: p.mode,
                offset: p.offset,
                limit: p.limit,
                tail_lines: p.tail_lines,
                next_offset: p.next_offset,
                has_more: p.has_more,
                size_bytes: p.size_bytes,
                truncated: p.truncated,
                worker_output,
            }))
        }))
    }

    #[tool(
        name = "terminate_worker",
        description = "Stop the worker and mark it CANCELLED if still active. Safe to repeat.",
        input_schema = output::input::<TerminateArgs>(),
        output_schema = output::output::<api::Terminated>(),
        annotations(read_only_hint = false, destructive_hint = true, idempotent_hint = true, open_world_hint = true)
    )]
    async fn terminate_worker(&self, Parameters(a): Parameters<TerminateArgs>) -> CallToolResult {
        done(self.manager.terminate(&a.session_id, a.reason.as_deref(), false).await.map(|v| output::ok(&v)))
    }
}

#[tool_router(router = session_tools, vis = "pub(crate)")]
impl AgentPoolServer {
    #[tool(
        name = "list_sessions",
        description = "Sessions newest first, paged (limit 1..500, offset). Only this server's coordinator unless include_all=true.",
        input_schema = output::input::<ListSessionsArgs>(),
        output_schema = output::output::<api::SessionPage>(),
        annotations(read_only_hint = true, destructive_hint = false, idempotent_hint = true, open_world_hint = false)
    )]
    async fn list_sessions(&self, Parameters(a): Parameters<ListSessionsArgs>) -> CallToolResult {
        if let Some(l) = a.limit
            && !(1..=500).contains(&l)
        {
            return output::fail(
                Error::new(ErrorCode::InvalidSessionPage, "limit must be between 1 and 500").with("limit", l),
            );
        }
        if a.offset < 0 {
            return output::fail(
                Error::new(ErrorCode::InvalidSessionPage, "offset must be zero or greater").with("offset", a.offset),
            );
        }
        let states = a.state.map(|s| match s {
            OneOrMany::One(s) => s.split(',').map(str::to_owned).collect(),
            OneOrMany::Many(v) => v,
        });
        done(self.manager.list(states, a.provider_id, a.limit, a.offset, a.include_all).await.map(|v| output::ok(&v)))
    }

    #[tool(
        name = "get_session",
        description = "The stored record of one session: provider, model, role, state, paths, timestamps, metadata.",
        input_schema = output::input::<SessionArgs>(),
        output_schema = output::output::<api::Shown>(),
        annotations(read_only_hint = true, destructive_hint = false, idempotent_hint = true, open_world_hint = false)
    )]
    async fn get_session(&self, Parameters(a): Parameters<SessionArgs>) -> CallToolResult {
        done(self.manager.show(&a.session_id).await.map(|v| output::ok(&v)))
    }

    #[tool(
        name = "resume_worker",
        description = "Start a new worker that continues an ended session's conversation with the provider's own resume mode (same provider, model, repo, isolation). RESUME_UNSUPPORTED when the provider has none or its CLI reported no conversation id.",
        input_schema = output::input::<ResumeArgs>(),
        output_schema = output::output::<api::Spawned>(),
        annotations(read_only_hint = false, destructive_hint = false, idempotent_hint = false, open_world_hint = true)
    )]
    async fn resume_worker(&self, Parameters(a): Parameters<ResumeArgs>) -> CallToolResult {
        done(self.manager.resume(&a.session_id, a.task.as_deref()).await.map(|v| output::ok(&v)))
    }

    #[tool(
        name = "attach_info",
        description = "The exact tmux command a human runs to watch or take over a worker.",
        input_schema = output::input::<SessionArgs>(),
        output_schema = output::output::<api::Attach>(),
        annotations(read_only_hint = true, destructive_hint = false, idempotent_hint = true, open_world_hint = false)
    )]
    async fn attach_info(&self, Parameters(a): Parameters<SessionArgs>) -> CallToolResult {
        done(self.manager.attach(&a.session_id).await.map(|v| output::ok(&v)))
    }

    #[tool(
        name = "send_worker_keys",
        description = "Send raw tmux keys (Enter, Escape, Up, C-c, …) to a worker. Disabled unless the user's policy sets allow_raw_keys.",
        input_schema = output::input::<KeysArgs>(),
        output_schema = output::output::<api::KeysSent>(),
        annotations(read_only_hint = false, destructive_hint = false, idempotent_hint = false, open_world_hint = true)
    )]
    async fn send_worker_keys(&self, Parameters(a): Parameters<KeysArgs>) -> CallToolResult {
        done(self.manager.keys(&a.session_id, &a.keys).await.map(|v| output::ok(&v)))
    }
}

#[tool_router(router = lease_tools, vis = "pub(crate)")]
impl AgentPoolServer {
    #[tool(
        name = "acquire_file_lease",
        description = "Claim an advisory lease on a file for a session: read leases share, write leases exclude. Released on terminate.",
        input_schema = output::input::<AcquireLeaseArgs>(),
        output_schema = output::output::<api::LeaseTaken>(),
        annotations(read_only_hint = false, destructive_hint = false, idempotent_hint = false, open_world_hint = false)
    )]
    async fn acquire_file_lease(&self, Parameters(a): Parameters<AcquireLeaseArgs>) -> CallToolResult {
        let r =
            self.manager.acquire_lease(&a.session_id, &a.file_path, &a.mode, a.ttl_seconds, Default::default()).await;
        done(r.map(|v| output::ok(&v)))
    }

    #[tool(
        name = "list_file_leases",
        description = "File leases, filtered by session or repository; active ones only unless active_only=false.",
        input_schema = output::input::<ListLeasesArgs>(),
        output_schema = output::output::<api::LeaseList>(),
        annotations(read_only_hint = true, destructive_hint = false, idempotent_hint = true, open_world_hint = false)
    )]
    async fn list_file_leases(&self, Parameters(a): Parameters<ListLeasesArgs>) -> CallToolResult {
        let r = self.manager.list_leases(a.session_id.as_deref(), a.repo_path.as_deref(), !a.active_only).await;
        done(r.map(|v| output::ok(&v)))
    }

    #[tool(
        name = "release_file_lease",
        description = "Release a lease by lease_id, or a session's leases (optionally only file_path).",
        input_schema = output::input::<ReleaseLeaseArgs>(),
        output_schema = output::output::<api::LeasesReleased>(),
        annotations(read_only_hint = false, destructive_hint = false, idempotent_hint = true, open_world_hint = false)
    )]
    async fn release_file_lease(&self, Parameters(a): Parameters<ReleaseLeaseArgs>) -> CallToolResult {
        let r = self.manager.release_lease(a.lease_id, a.session_id.as_deref(), a.file_path.as_deref(), false).await;
        done(r.map(|v| output::ok(&v)))
    }
}

#[tool_router(router = worktree_tools, vis = "pub(crate)")]
impl AgentPoolServer {
    #[tool(
        name = "list_worktrees",
        description = "Git worktrees of a repository, with the AgentPool session each belongs to.",
        input_schema = output::input::<RepoArgs>(),
        output_schema = output::output::<api::WorktreeList>(),
        annotations(read_only_hint = true, destructive_hint = false, idempotent_hint = true, open_world_hint = false)
    )]
    async fn list_worktrees(&self, Parameters(a): Parameters<RepoArgs>) -> CallToolResult {
        done(self.manager.list_worktrees(&a.repo_path).await.map(|v| output::ok(&v)))
    }

    #[tool(
        name = "cleanup_worktree",
        description = "Remove a finished session's worktree and branch. Refuses active sessions, and unless force refuses when anything would be lost (modified, untracked or ignored files, unmerged commits, stashes), listing it in details.would_lose; never drops unmerged commits or stashes.",
        input_schema = output::input::<CleanupWorktreeArgs>(),
        output_schema = output::output::<api::Cleanup>(),
        annotations(read_only_hint = false, destructive_hint = true, idempotent_hint = true, open_world_hint = false)
    )]
    async fn cleanup_worktree(&self, Parameters(a): Parameters<CleanupWorktreeArgs>) -> CallToolResult {
        let r = self.manager.cleanup_worktree(&a.session_id, a.force, a.dry_run).await.map_err(|e| {
            if e.code == ErrorCode::WorktreeDirty {
                // The core's next step is a CLI command; an MCP caller previews with dry_run.
                e.with("example", format!("cleanup_worktree(session_id='{}', dry_run=true)", a.session_id))
            } else {
                e
            }
        });
        done(r.map(|v| output::ok(&v)))
    }
}

impl AgentPoolServer {
    /// Observe and poll: the wait runs until it ends, the request is cancelled, or the
    /// guard's deadline; progress is reported while it waits.
    async fn observe(
        &self,
        session_id: String,
        wait_for: Vec<String>,
        timeout: Duration,
        guard_meta: serde_json::Map<String, Value>,
        detail: Detail,
        max_lines: Option<i64>,
        include_recent_log: bool,
        ctx: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        let lockdown = self.lockdown;
        // Asking for the recent log is asking for worker text: render it as an excerpt.
        let detail = if include_recent_log && detail == Detail::Summary { Detail::Excerpt } else { detail };
        let opts = ObserveOptions {
            wait_for,
            timeout,
            max_lines: clamp_lines(max_lines),
            include_screen: !lockdown && detail != Detail::Summary,
            include_recent_log: !lockdown && include_recent_log,
        };
        let token = ctx.meta.get_progress_token();
        let started = tokio::time::Instant::now();
        let mut work = pin!(self.manager.observe(&session_id, opts));
        let mut ticker = tokio::time::interval_at(started + PROGRESS_EVERY, PROGRESS_EVERY);
        let result = loop {
            tokio::select! {
                biased;
                () = ctx.ct.cancelled() => {
                    tracing::debug!(%session_id, "observe cancelled by the client");
                    return Err(ErrorData::new(rmcp::model::ErrorCode(-32800), "request cancelled", None));
                }
                r = &mut work => break r,
                _ = ticker.tick(), if token.is_some() && !timeout.is_zero() => {
                    if let Some(t) = &token {
                        let elapsed = started.elapsed().as_secs_f64().floor();
                        let p = ProgressNotificationParam::new(t.clone(), elapsed)
                            .with_total(timeout.as_secs_f64())
                            .with_message(format!("waiting on {session_id}"));
                        let _ = ctx.peer.notify_progress(p).await;
                    }
                }
            }
        };
        Ok(match result {
            Ok(resp) => {
                let mut payload = self.manager.observe_payload(&resp, detail, lockdown);
                payload.metadata.extend(guard_meta);
                output::ok(&payload)
            }
            Err(e) => output::fail(e),
        })
    }
}
