//! Healthchecks (moby `daemon/health.go`): the probe from the container's
//! `Healthcheck` (the image's, or `--health-*`) runs as an exec in the
//! container every `Interval`; the last five results, the failing streak
//! and the status live in `State.Health` (persisted with the record), a
//! change of status publishes `health_status: STATUS`. A probe that outlives
//! `Timeout` is killed. While the container is still `starting` within its
//! `StartPeriod`, probes come every `StartInterval` (API 1.44; 5s when
//! unset, as moby) instead of every `Interval`. The loop ends when the container stops, and starts
//! again with the monitor after a start or a daemon restart (live restore).

use std::sync::Arc;
use std::time::Duration;

use berth_api::types::HealthConfig;
use berth_api::views::{Health, HealthcheckResult};
use berth_runtime::client::{ExecFrame, EXEC_LOST_EXIT_CODE};
use chrono::{SecondsFormat, Utc};

use crate::containers::container::{Handle, Status};
use crate::exec::{ExecConfig, EXEC_START_FAILED_EXIT_CODE};
use crate::Engine;

const DEFAULT_INTERVAL: Duration = Duration::from_secs(30);
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
const DEFAULT_RETRIES: i64 = 3;
/// moby's `defaultStartInterval`: the pace during the start period when
/// `StartInterval` is not given.
const DEFAULT_START_INTERVAL: Duration = Duration::from_secs(5);
/// dockerd keeps this many results and this much output of each.
const MAX_LOG: usize = 5;
const MAX_OUTPUT: usize = 4096;

/// The probe's command, or `None` when there is no healthcheck.
fn probe_cmd(h: &HealthConfig) -> Option<Vec<String>> {
    let test = h.test.as_ref()?;
    match test.first().map(String::as_str) {
        Some("CMD") if test.len() > 1 => Some(test[1..].to_vec()),
        Some("CMD-SHELL") if test.len() > 1 => {
            Some(vec!["/bin/sh".into(), "-c".into(), test[1..].join(" ")])
        }
        _ => None,
    }
}

fn dur(ns: i64, default: Duration) -> Duration {
    if ns > 0 {
        Duration::from_nanos(ns as u64)
    } else {
        default
    }
}

/// `State.Health` before the first probe. `Log` is `[]`, not `null`:
/// stored records have always had it so.
fn fresh_health() -> Health {
    Health {
        status: STARTING.into(),
        failing_streak: 0,
        log: Some(vec![]),
    }
}

const STARTING: &str = "starting";

fn now() -> String {
    Utc::now().to_rfc3339_opts(SecondsFormat::Nanos, true)
}

/// Checks `--health-*` values at create, with dockerd's messages.
pub fn validate(h: Option<&HealthConfig>) -> berth_api::Result<()> {
    let Some(h) = h else { return Ok(()) };
    let min = Duration::from_millis(1).as_nanos() as i64;
    for (name, v) in [
        ("Interval", h.interval),
        ("Timeout", h.timeout),
        ("StartPeriod", h.start_period),
        ("StartInterval", h.start_interval),
    ] {
        if v != 0 && v < min {
            return Err(berth_api::Error::invalid(format!(
                "{name} in Healthcheck cannot be less than 1ms"
            )));
        }
    }
    if h.retries < 0 {
        return Err(berth_api::Error::invalid(
            "Retries in Healthcheck cannot be negative",
        ));
    }
    Ok(())
}

/// Starts the probe loop for a running container (no-op without a check).
pub(crate) fn spawn(engine: Arc<Engine>, h: Arc<Handle>) {
    let r = h.snapshot();
    let Some(cfg) = r.config.healthcheck.clone() else {
        return;
    };
    let Some(cmd) = probe_cmd(&cfg) else { return };
    let started_at = r.state.started_at.clone();
    // A restored container keeps its health; a started one begins again.
    h.with(|r| {
        if r.state.health.is_none() {
            r.state.health = Some(fresh_health());
        }
    });
    let _ = engine.save(&h);
    tokio::spawn(async move {
        let interval = dur(cfg.interval, DEFAULT_INTERVAL);
        let timeout = dur(cfg.timeout, DEFAULT_TIMEOUT);
        let start_period = dur(cfg.start_period, Duration::ZERO);
        let start_interval = dur(cfg.start_interval, DEFAULT_START_INTERVAL);
        let retries = if cfg.retries > 0 {
            cfg.retries
        } else {
            DEFAULT_RETRIES
        };
        // The start period counts from the container's start (as moby's
        // `State.StartedAt`), also for a loop resumed after a daemon restart.
        let began = chrono::DateTime::parse_from_rfc3339(&started_at)
            .ok()
            .and_then(|t| (Utc::now() - t.with_timezone(&Utc)).to_std().ok())
            .and_then(|ago| tokio::time::Instant::now().checked_sub(ago))
            .unwrap_or_else(tokio::time::Instant::now);
        loop {
            let starting = h
                .snapshot()
                .state
                .health
                .as_ref()
                .is_none_or(|v| v.status == STARTING);
            tokio::time::sleep(next_interval(
                began.elapsed(),
                start_period,
                starting,
                interval,
                start_interval,
            ))
            .await;
            let live = |h: &Handle| {
                let r = h.snapshot();
                r.state.status == Status::Running && r.state.started_at == started_at
            };
            if !live(&h) {
                break;
            }
            if h.snapshot().state.paused {
                continue;
            }
            // moby measures the start period at the probe's start.
            let in_start_period = began.elapsed() < start_period;
            let start = now();
            let (code, output) = run_probe(&engine, &h.id, &cmd, timeout).await;
            let end = now();
            if !live(&h) {
                break;
            }
            let (old, new) = h.with(|r| {
                let health = r.state.health.get_or_insert_with(fresh_health);
                let old = health.status.clone();
                if code == 0 {
                    health.failing_streak = 0;
                    health.status = "healthy".into();
                } else if !(in_start_period && old == STARTING) {
                    health.failing_streak += 1;
                    if health.failing_streak >= retries {
                        health.status = "unhealthy".into();
                    }
                }
                let log = health.log.get_or_insert_with(Vec::new);
                log.push(HealthcheckResult {
                    start,
                    end,
                    exit_code: code,
                    output,
                });
                if log.len() > MAX_LOG {
                    log.drain(..log.len() - MAX_LOG);
                }
                (old, health.status.clone())
            });
            let _ = engine.save(&h);
            if old != new {
                engine
                    .containers()
                    .event(&h.id, &format!("health_status: {new}"));
            }
        }
    });
}

/// The wait before the next probe (moby's `getInterval`): `StartInterval`
/// while the container is still `starting` within its start period,
/// `Interval` otherwise.
fn next_interval(
    since_start: Duration,
    start_period: Duration,
    starting: bool,
    interval: Duration,
    start_interval: Duration,
) -> Duration {
    if since_start < start_period && starting {
        start_interval
    } else {
        interval
    }
}

/// Runs the probe as an exec; returns its exit code and output. A probe
/// that outlives `timeout` is killed and reported as dockerd does.
async fn run_probe(engine: &Engine, id: &str, cmd: &[String], timeout: Duration) -> (i64, String) {
    let config = ExecConfig {
        cmd: Some(cmd.to_vec()),
        attach_stdout: true,
        attach_stderr: true,
        ..ExecConfig::default()
    };
    let exec_id = match engine.exec().create(id, config) {
        Ok(e) => e,
        Err(e) => return (-1, e.message),
    };
    let mut session = match engine.exec().start(&exec_id).await {
        Ok(s) => s,
        Err(e) => {
            engine
                .exec()
                .finished(&exec_id, EXEC_START_FAILED_EXIT_CODE);
            return (-1, e.message);
        }
    };
    let mut out = Vec::new();
    let read = async {
        loop {
            match session.stream.output.next_frame().await {
                ExecFrame::Exit(code) => return code,
                ExecFrame::Output { data, .. } if out.len() < MAX_OUTPUT => {
                    out.extend_from_slice(&data)
                }
                ExecFrame::Output { .. } => {}
            }
        }
    };
    match tokio::time::timeout(timeout, read).await {
        Ok(code) => {
            engine.exec().finished(&exec_id, code);
            out.truncate(MAX_OUTPUT);
            (code, String::from_utf8_lossy(&out).into_owned())
        }
        Err(_) => {
            if let Some(pid) = engine.exec().pid(&exec_id).filter(|p| *p > 0) {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(pid as i32),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
            engine.exec().finished(&exec_id, EXEC_LOST_EXIT_CODE);
            (
                -1,
                format!(
                    "Health check exceeded timeout ({})",
                    humantime_secs(timeout)
                ),
            )
        }
    }
}

/// Go's `time.Duration` text for whole and fractional seconds (`1s`, `1.5s`).
fn humantime_secs(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s.fract() == 0.0 {
        format!("{}s", s as u64)
    } else if s < 1.0 {
        format!("{}ms", d.as_millis())
    } else {
        format!("{s}s")
    }
}

/// The `(healthy)` suffix of `docker ps`'s STATUS.
pub fn ps_suffix(health: Option<&Health>) -> String {
    match health.map(|h| h.status.as_str()) {
        Some("starting") => " (health: starting)".into(),
        Some(s) if !s.is_empty() => format!(" ({s})"),
        _ => String::new(),
    }
}

/// `docker ps --filter health=...`: `starting`, `healthy`, `unhealthy`, `none`.
pub fn matches_filter(health: Option<&Health>, want: &str) -> bool {
    health.map_or("none", |h| h.status.as_str()) == want
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probes() {
        let h = |t: &[&str]| HealthConfig {
            test: Some(t.iter().map(|s| s.to_string()).collect()),
            ..Default::default()
        };
        assert_eq!(
            probe_cmd(&h(&["CMD", "true"])),
            Some(vec!["true".to_string()])
        );
        assert_eq!(
            probe_cmd(&h(&["CMD-SHELL", "exit 1"])),
            Some(vec!["/bin/sh".into(), "-c".into(), "exit 1".into()])
        );
        assert_eq!(probe_cmd(&h(&["NONE"])), None);
        assert_eq!(probe_cmd(&h(&[])), None);
        assert_eq!(humantime_secs(Duration::from_secs(1)), "1s");
        assert_eq!(humantime_secs(Duration::from_millis(1500)), "1.5s");
        let with = |s: &str| Health {
            status: s.into(),
            ..fresh_health()
        };
        assert_eq!(ps_suffix(Some(&with("healthy"))), " (healthy)");
        assert_eq!(ps_suffix(Some(&fresh_health())), " (health: starting)");
        assert_eq!(ps_suffix(None), "");
        assert!(matches_filter(Some(&with("unhealthy")), "unhealthy"));
        assert!(matches_filter(None, "none"));
        assert!(!matches_filter(Some(&fresh_health()), "none"));
        assert!(validate(Some(&HealthConfig {
            interval: 10,
            ..Default::default()
        }))
        .is_err());
        let (i, si, sp) = (
            Duration::from_secs(30),
            Duration::from_secs(1),
            Duration::from_secs(60),
        );
        assert_eq!(next_interval(Duration::ZERO, sp, true, i, si), si);
        // Healthy already, or past the start period: the normal pace.
        assert_eq!(next_interval(Duration::ZERO, sp, false, i, si), i);
        assert_eq!(next_interval(sp, sp, true, i, si), i);
        // No start period: never the start interval.
        assert_eq!(
            next_interval(Duration::ZERO, Duration::ZERO, true, i, si),
            i
        );
        assert!(validate(Some(&HealthConfig {
            retries: -1,
            ..Default::default()
        }))
        .is_err());
    }
}
