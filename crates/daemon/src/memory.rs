//! Keeping an idle daemon small (issue 3's goal: under 20 MiB resident).
//!
//! glibc's malloc gives each thread that allocates an arena of its own (up
//! to eight per core), and keeps what is freed in them for later. berthd's
//! tokio workers and blocking threads come and go, so after a burst of
//! work (a build, many starts) several arenas sit on freed memory. Two
//! arenas are plenty for a control plane; and a trim, when the daemon holds
//! more than a little free memory, hands the rest back to the kernel.
//! `MALLOC_ARENA_MAX` in the environment still wins, as with any glibc
//! program.

use std::time::Duration;

/// Before any thread starts.
pub fn limit_arenas() {
    if std::env::var_os("MALLOC_ARENA_MAX").is_none() {
        // SAFETY: mallopt only sets a malloc tunable; called before any
        // other thread exists.
        unsafe { libc::mallopt(libc::M_ARENA_MAX, 2) };
    }
}

/// Free memory malloc may keep without a trim.
const KEEP: usize = 512 * 1024;

/// Every two seconds, returns freed memory to the kernel when malloc holds
/// more than [`KEEP`] of it (a check that costs microseconds when idle).
pub async fn trim_when_idle() {
    let mut tick = tokio::time::interval(Duration::from_secs(2));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        tick.tick().await;
        // SAFETY: mallinfo2 and malloc_trim take malloc's own locks and
        // touch no memory of ours.
        let held = unsafe { libc::mallinfo2() }.fordblks;
        if held > KEEP {
            // SAFETY: as above.
            unsafe { libc::malloc_trim(0) };
        }
    }
}
