//! `docker cp` both ways, on running and stopped containers, with docker's
//! path rules, and hostile paths (`..`, a symlink to `/`) that must touch
//! nothing on the host.

use std::os::unix::fs::MetadataExt;
use std::path::Path;

use berth_e2e::Daemon;

fn write(p: &Path, s: &str) {
    if let Some(d) = p.parent() {
        std::fs::create_dir_all(d).expect("mkdir");
    }
    std::fs::write(p, s).expect("write");
}

#[test]
fn cp_in_and_out_with_dockers_rules() {
    let d = Daemon::start();
    let t = d.tmp();
    d.docker(&["run", "-d", "--name", "cpr", "busybox", "sleep", "60"])
        .ok();
    // A file to a new name, and back out.
    write(&t.join("f.txt"), "hello\n");
    let tf = t.join("f.txt").display().to_string();
    d.docker(&["cp", &tf, "cpr:/tmp/new.txt"]).ok();
    d.docker(&["exec", "cpr", "cat", "/tmp/new.txt"])
        .ok()
        .stdout_is("hello\n");
    let out = t.join("back.txt").display().to_string();
    d.docker(&["cp", "cpr:/tmp/new.txt", &out]).ok();
    assert_eq!(std::fs::read_to_string(&out).expect("read"), "hello\n");
    // A directory to a path that does not exist: it becomes that path.
    write(&t.join("src/a"), "A");
    write(&t.join("src/sub/b"), "B");
    let src = t.join("src").display().to_string();
    d.docker(&["cp", &src, "cpr:/dst"]).ok();
    d.docker(&["exec", "cpr", "cat", "/dst/a", "/dst/sub/b"])
        .ok()
        .stdout_is("AB");
    // To an existing directory: copied inside it.
    d.docker(&["cp", &src, "cpr:/dst"]).ok();
    d.docker(&["exec", "cpr", "cat", "/dst/src/a"])
        .ok()
        .stdout_is("A");
    // `dir/.`: the contents only.
    d.docker(&["exec", "cpr", "mkdir", "/only"]).ok();
    d.docker(&["cp", &format!("{src}/."), "cpr:/only"]).ok();
    d.docker(&["exec", "cpr", "ls", "/only"])
        .ok()
        .stdout_is("a\nsub\n");
    // Out: a directory, and its contents with `/.`.
    let o1 = t.join("o1").display().to_string();
    d.docker(&["cp", "cpr:/dst", &o1]).ok();
    assert_eq!(std::fs::read_to_string(t.join("o1/sub/b")).expect("b"), "B");
    std::fs::create_dir(t.join("o2")).expect("mkdir");
    let o2 = t.join("o2").display().to_string();
    d.docker(&["cp", "cpr:/dst/.", &o2]).ok();
    assert_eq!(std::fs::read_to_string(t.join("o2/a")).expect("a"), "A");
    // A symlink is copied as a link; -L follows it.
    d.docker(&["exec", "cpr", "ln", "-s", "/tmp/new.txt", "/tmp/link"])
        .ok();
    let l1 = t.join("l1");
    d.docker(&["cp", "cpr:/tmp/link", &l1.display().to_string()])
        .ok();
    assert_eq!(
        std::fs::read_link(&l1).expect("a symlink"),
        Path::new("/tmp/new.txt")
    );
    let l2 = t.join("l2");
    d.docker(&["cp", "-L", "cpr:/tmp/link", &l2.display().to_string()])
        .ok();
    assert_eq!(std::fs::read_to_string(&l2).expect("file"), "hello\n");
    // stdout as a tar.
    d.sh("docker cp cpr:/tmp/new.txt - | tar -t")
        .ok()
        .stdout_is("new.txt\n");
    // stdin as a tar.
    d.sh(&format!(
        "tar -C {} -c f.txt | docker cp - cpr:/tmp",
        t.display()
    ))
    .ok();
    d.docker(&["exec", "cpr", "cat", "/tmp/f.txt"])
        .ok()
        .stdout_is("hello\n");
    // Missing paths.
    d.docker(&["cp", "cpr:/nonexistent", &out])
        .fails()
        .stderr_has("Could not find the file /nonexistent in container cpr");
    d.docker(&["cp", &tf, "cpr:/nonexistent/dir/"]).fails();
    // A file onto a directory with the trailing-slash rule.
    d.docker(&["cp", &tf, "cpr:/tmp/new.txt/"]).fails();
    d.docker(&["rm", "-f", "cpr"]).ok();
}

#[test]
fn cp_keeps_owners_and_a_gives_them_to_the_user() {
    let d = Daemon::start();
    let t = d.tmp();
    d.docker(&[
        "run", "-d", "--name", "cpa", "--user", "nobody", "busybox", "sleep", "60",
    ])
    .ok();
    let f = t.join("owned");
    write(&f, "x");
    std::os::unix::fs::chown(&f, Some(1234), Some(2345)).expect("chown");
    let fs = f.display().to_string();
    d.docker(&["cp", &fs, "cpa:/tmp/plain"]).ok();
    d.docker(&["cp", "-a", &fs, "cpa:/tmp/kept"]).ok();
    d.docker(&[
        "exec",
        "cpa",
        "stat",
        "-c",
        "%u:%g",
        "/tmp/plain",
        "/tmp/kept",
    ])
    .ok()
    .stdout_is("1234:2345\n65534:65534\n");
    d.docker(&["rm", "-f", "cpa"]).ok();
}

#[test]
fn cp_on_a_stopped_container() {
    let d = Daemon::start();
    let t = d.tmp();
    d.docker(&["create", "--name", "cps", "busybox", "cat", "/in.txt"])
        .ok();
    write(&t.join("in.txt"), "from the host\n");
    d.docker(&["cp", &t.join("in.txt").display().to_string(), "cps:/"])
        .ok();
    d.docker(&["start", "-a", "cps"])
        .ok()
        .stdout_is("from the host\n");
    let out = t.join("passwd");
    d.docker(&["cp", "cps:/etc/passwd", &out.display().to_string()])
        .ok();
    assert!(std::fs::read_to_string(&out)
        .expect("read")
        .contains("root:"));
}

#[test]
fn cp_never_escapes_the_container() {
    let d = Daemon::start();
    let t = d.tmp();
    // Host files the container must never reach.
    let secret = t.join("host-secret");
    write(&secret, "host only\n");
    let secret_s = secret.display().to_string();
    let host_dir = t.join("host-dir");
    std::fs::create_dir_all(&host_dir).expect("mkdir");
    let marker = format!("bres-cp-marker-{}", std::process::id());
    d.docker(&[
        "run", "-d", "--name", "cpx", "busybox", "sh", "-c",
        "ln -s / /escape; ln -s ../../../../../.. /up; mkdir -p /tmp/d; ln -s /etc /tmp/d/etc; sleep 60",
    ])
    .ok();
    berth_e2e::wait_for(std::time::Duration::from_secs(10), || {
        (d.docker(&["exec", "cpx", "test", "-L", "/tmp/d/etc"]).code == Some(0)).then_some(())
    })
    .expect("the container made its links");
    let out = t.join("got").display().to_string();
    for p in [
        format!("cpx:/escape{secret_s}"),
        format!("cpx:/up{secret_s}"),
        format!("cpx:../../../..{secret_s}"),
        format!("cpx:/tmp/d/etc/../..{secret_s}"),
    ] {
        d.docker(&["cp", &p, &out]).fails();
        assert!(!Path::new(&out).exists(), "{p} was copied out");
    }
    // Reading through the symlink to `/` reads the container's `/`.
    d.docker(&["cp", "cpx:/escape/etc/hostname", &out]).ok();
    assert_ne!(
        std::fs::read_to_string(&out).expect("read"),
        std::fs::read_to_string("/etc/hostname").unwrap_or_default()
    );
    // Writing through them lands in the container, never on the host.
    let src = t.join(&marker);
    write(&src, "m");
    let src_s = src.display().to_string();
    let host_dir_s = host_dir.display().to_string();
    for dst in [
        format!("cpx:/escape{host_dir_s}"),
        format!("cpx:/up{host_dir_s}"),
        format!("cpx:../../..{host_dir_s}"),
    ] {
        // The path does not exist in the container: refused.
        d.docker(&["cp", &src_s, &format!("{dst}/")]).fails();
    }
    for dst in ["cpx:/escape/tmp", "cpx:/up/tmp", "cpx:../../../tmp"] {
        d.docker(&["cp", &src_s, dst]).ok();
    }
    d.docker(&["exec", "cpx", "ls", &format!("/tmp/{marker}")])
        .ok();
    assert!(
        !Path::new("/tmp").join(&marker).exists(),
        "a copy into the container reached the host's /tmp"
    );
    assert_eq!(std::fs::read_dir(&host_dir).expect("ls").count(), 0);
    // A tar with `..` entries is refused and writes nothing anywhere.
    let evil = t.join("evil.tar");
    let mut b = tar::Builder::new(std::fs::File::create(&evil).expect("create"));
    let mut h = tar::Header::new_gnu();
    h.set_size(1);
    h.set_mode(0o644);
    h.set_entry_type(tar::EntryType::Regular);
    // `set_path` refuses `..`; write the raw name as a hostile client would.
    let name = format!("../../../../..{}/{}", host_dir_s, marker);
    h.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
    h.set_cksum();
    b.append(&h, &b"x"[..]).expect("append");
    b.finish().expect("finish");
    drop(b);
    let body = std::fs::read(&evil).expect("read");
    let r = d.http(
        "PUT",
        "/containers/cpx/archive?path=/tmp",
        Some("application/x-tar"),
        &body,
    );
    // dockerd cleans the name lexically below the extraction point: this
    // one climbs to `/` and comes back into `/tmp`, so it lands inside the
    // container, never on the host.
    assert!(r.status == 200 || r.status >= 400, "{}", r.status);
    assert_eq!(std::fs::read_dir(&host_dir).expect("ls").count(), 0);
    if r.status == 200 {
        d.docker(&["exec", "cpx", "ls", &format!("{host_dir_s}/{marker}")])
            .ok();
    }
    // One that climbs out of the extraction point is refused.
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_size(1);
    h.set_mode(0o644);
    h.set_entry_type(tar::EntryType::Regular);
    let name = b"../outside";
    h.as_old_mut().name[..name.len()].copy_from_slice(name);
    h.set_cksum();
    b.append(&h, &b"x"[..]).expect("append");
    let body = b.into_inner().expect("tar");
    let r = d.http(
        "PUT",
        "/containers/cpx/archive?path=/tmp",
        Some("application/x-tar"),
        &body,
    );
    assert!(r.status >= 400, "an escaping entry was accepted");
    d.docker(&["exec", "cpx", "test", "!", "-e", "/outside"])
        .ok();
    let meta = std::fs::metadata(&secret).expect("secret");
    assert_eq!(meta.size(), 10);
    d.docker(&["rm", "-f", "cpx"]).ok();
}

#[test]
fn every_cli_copies_with_the_same_rules() {
    let d = Daemon::start();
    let t = d.tmp();
    write(&t.join("src/a"), "A");
    write(&t.join("src/sub/b"), "B");
    write(&t.join("f.txt"), "hello\n");
    let src = t.join("src").display().to_string();
    let tf = t.join("f.txt").display().to_string();
    d.docker(&["run", "-d", "--name", "cpc", "busybox", "sleep", "60"])
        .ok();
    d.docker(&["exec", "cpc", "ln", "-s", "/etc/passwd", "/plink"])
        .ok();
    for (i, cli) in d.clis().into_iter().enumerate() {
        let tag = format!("{cli:?}");
        let run = |args: &[&str]| {
            let o = d.run(cli, args);
            o.ok();
            o
        };
        // In: file to a new name, dir to a missing path, dir/. into a dir.
        run(&["cp", &tf, &format!("cpc:/tmp/n{i}.txt")]);
        run(&["cp", &src, &format!("cpc:/d{i}")]);
        d.docker(&["exec", "cpc", "mkdir", &format!("/c{i}")]).ok();
        run(&["cp", &format!("{src}/."), &format!("cpc:/c{i}")]);
        d.docker(&[
            "exec",
            "cpc",
            "cat",
            &format!("/tmp/n{i}.txt"),
            &format!("/d{i}/sub/b"),
            &format!("/c{i}/a"),
        ])
        .ok()
        .stdout_is("hello\nBA");
        // Out as a tar on stdout.
        let o = run(&["cp", &format!("cpc:/tmp/n{i}.txt"), "-"]);
        assert!(
            o.stdout.starts_with(&format!("n{i}.txt")) && o.stdout.contains("hello\n"),
            "{tag}: not a tar of n{i}.txt"
        );
        // Out: a dir to a missing path, its contents, a link and -L.
        let out = t.join(format!("out-{tag}"));
        run(&["cp", &format!("cpc:/d{i}"), &out.display().to_string()]);
        assert_eq!(
            std::fs::read_to_string(out.join("sub/b")).expect("b"),
            "B",
            "{tag}"
        );
        let link = t.join(format!("link-{tag}"));
        run(&["cp", "cpc:/plink", &link.display().to_string()]);
        assert_eq!(
            std::fs::read_link(&link).expect("link"),
            Path::new("/etc/passwd")
        );
        let fol = t.join(format!("fol-{tag}"));
        run(&["cp", "-L", "cpc:/plink", &fol.display().to_string()]);
        assert!(std::fs::read_to_string(&fol)
            .expect("file")
            .contains("root:"));
        // Missing source.
        // (docker 28: "Could not find the file /nope in container cpc";
        // docker 20.10: "No such container:path: cpc:/nope")
        let o = d.run(cli, &["cp", "cpc:/nope", &fol.display().to_string()]);
        o.fails();
        assert!(
            o.stderr.contains("/nope") && o.stderr.contains("cpc"),
            "{tag}: {}",
            o.stderr
        );
    }
    d.docker(&["rm", "-f", "cpc"]).ok();
}
