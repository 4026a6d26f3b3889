//! The fault-injection hook of the reliability suite
//! (`tests/e2e/tests/faults.rs`): `BERTH_TEST_CRASH_AT=<point>` in berthd's
//! environment makes the daemon SIGKILL itself when it reaches `<point>`,
//! exactly as `kill -9` at that instant would, so a test can check what a
//! crash there leaves and what the next start makes of it. A timed kill
//! would hit a window of a few milliseconds only by luck.
//!
//! Compiled in debug builds only (the e2e suite runs those); in release
//! builds [`point`] is an empty inline function.
//!
//! The points (each named `<operation>.<what is done>`):
//! - `pull.staged`: every layer downloaded and unpacked, nothing committed;
//! - `pull.layer-registered`: the first new layer registered, no image yet;
//! - `load.layer-registered`: the same for `docker load`;
//! - `push.blobs-uploaded`: layers and config sent, no manifest yet;
//! - `build.step-committed`: a `RUN` step's image committed, its
//!   container not yet removed;
//! - `create.rw-layer`: a container's rw layer made, no record yet;
//! - `start.mounted`: the rootfs mounted and the bundle written, no shim;
//! - `start.netns-ready`: the shim made the netns and still creates the
//!   container (it will find the daemon gone when it reports);
//! - `start.created`: the shim made the container and its network is
//!   plugged, the process not started;
//! - `rm.rw-layer-removed`: the rw layer removed, the record not yet.

/// Kills the process with SIGKILL if `BERTH_TEST_CRASH_AT` names `name`.
#[inline]
pub fn point(name: &str) {
    #[cfg(debug_assertions)]
    {
        static AT: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
        let at = AT.get_or_init(|| std::env::var("BERTH_TEST_CRASH_AT").ok());
        if at.as_deref() == Some(name) {
            tracing::warn!(point = name, "BERTH_TEST_CRASH_AT: killing the daemon");
            // SAFETY: kill(2) of our own process.
            unsafe {
                libc::kill(libc::getpid(), libc::SIGKILL);
            }
        }
    }
    #[cfg(not(debug_assertions))]
    let _ = name;
}
