//! The suite's last word: nothing with the test prefix may be left on the
//! machine. cargo runs test binaries one after another in name order, so
//! this runs after the others; it also takes every daemon slot first.
//!
//! It fails on (1) leak reports the per-test teardowns wrote (what a daemon
//! left after all its containers were removed and it was stopped), and
//! (2) anything still present now: mounts and processes under /tmp/be2e,
//! netns and links named be2e*, nftables tables containing "be2e".

use std::path::Path;

use berth_e2e::{acquire_all_slots, leak, ROOT, TAG};

#[test]
fn nothing_left_behind() {
    let _slots = acquire_all_slots();
    let mut problems = Vec::new();
    let reports = Path::new(ROOT).join("leaks");
    if let Ok(rd) = std::fs::read_dir(&reports) {
        for e in rd.flatten() {
            let text = std::fs::read_to_string(e.path()).unwrap_or_default();
            problems.push(format!("leak report {}:\n{text}", e.path().display()));
            // Reported once; the next run starts clean.
            let _ = std::fs::remove_file(e.path());
        }
    }
    let root = Path::new(ROOT);
    let mut now = Vec::new();
    for m in leak::mounts_under(root) {
        now.push(format!("mount {m}"));
    }
    for (pid, cmd) in leak::processes_under(root) {
        now.push(format!("process {pid}: {cmd}"));
    }
    let netns = leak::netns_named(TAG);
    let links = leak::links_named(TAG);
    now.extend(netns.iter().map(|n| format!("netns {n}")));
    now.extend(links.iter().map(|n| format!("link {n}")));
    now.extend(
        leak::nft_tables_containing(TAG)
            .into_iter()
            .map(|t| format!("nftables table {t}")),
    );
    if !now.is_empty() {
        problems.push(format!(
            "still present at the end of the suite:\n{}",
            now.join("\n")
        ));
        // Clean up so the machine is usable, after reporting.
        for s in 0..berth_e2e::MAX_SLOTS {
            let name = format!("{TAG}{s}");
            leak::force_clean(&root.join(format!("s{s}")), &[&name]);
        }
        for t in leak::nft_tables_containing(TAG) {
            let mut args = vec!["delete", "table"];
            args.extend(t.split(' '));
            let _ = std::process::Command::new("nft").args(&args).status();
        }
    }
    assert!(problems.is_empty(), "LEAKS:\n\n{}", problems.join("\n\n"));
}
