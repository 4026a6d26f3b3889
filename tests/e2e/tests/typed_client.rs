//! berth-client, the typed Engine API client the CLI, this suite and
//! compose share, against the daemon (and against dockerd, to check the
//! client): version negotiation, networks, volumes, a container's whole
//! life, exec with its output and exit code, pull with its progress. No
//! JSON is written here: every request and answer is a `berth_api` type.

use berth_api::model::{
    ContainerCreateBody, EndpointSettings, ExecConfig, HostConfig, NetworkCreateRequest,
    NetworkingConfig, VolumeCreateOptions,
};
use berth_client::Client;
use berth_e2e::registry::{free_port, plain_registry};
use berth_e2e::Daemon;

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime")
        .block_on(f)
}

fn client(d: &Daemon) -> Client {
    Client::new(&format!("unix://{}", d.sock.display())).expect("a client for the daemon")
}

#[test]
fn a_typed_client_runs_a_container_on_a_network_with_a_volume() {
    let d = Daemon::start();
    let c = client(&d);
    block_on(async {
        assert_eq!(c.ping().await.unwrap(), "OK");
        let version = c.api_version().await.unwrap();
        assert!(version.starts_with("1."), "negotiated {version}");

        let net = c
            .create_network(&NetworkCreateRequest {
                name: "tc-net".into(),
                driver: "bridge".into(),
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(net.id.len(), 64, "{net:?}");
        let inspected = c.inspect_network("tc-net").await.unwrap();
        assert_eq!(
            (inspected.name.as_str(), inspected.driver.as_str()),
            ("tc-net", "bridge")
        );
        assert!(c
            .list_networks()
            .await
            .unwrap()
            .iter()
            .any(|n| n.id == net.id));

        let vol = c
            .create_volume(&VolumeCreateOptions {
                name: "tc-vol".into(),
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(
            (vol.name.as_str(), vol.driver.as_str()),
            ("tc-vol", "local")
        );
        assert!(!vol.mountpoint.is_empty(), "{vol:?}");

        // A container on the network, writing into the volume, with an alias.
        let mut endpoints = indexmap::IndexMap::new();
        endpoints.insert(
            "tc-net".to_string(),
            EndpointSettings {
                aliases: Some(vec!["db".into()]),
                ..Default::default()
            },
        );
        let body = ContainerCreateBody {
            image: "busybox".into(),
            cmd: Some(vec![
                "sh".into(),
                "-c".into(),
                "echo kept > /data/f; cat /data/f; echo to-stderr >&2; sleep 300".into(),
            ]),
            host_config: HostConfig {
                binds: Some(vec!["tc-vol:/data".into()]),
                network_mode: "tc-net".into(),
                ..Default::default()
            },
            networking_config: NetworkingConfig {
                endpoints_config: Some(endpoints),
            },
            ..Default::default()
        };
        let created = c.create_container(Some("tc-web"), &body).await.unwrap();
        c.start_container(&created.id).await.unwrap();
        let running = c.inspect_container("tc-web").await.unwrap();
        assert!(running.state.running, "{:?}", running.state);

        // exec: its output demultiplexed, then its exit code.
        let exec = c
            .create_exec(
                "tc-web",
                &ExecConfig {
                    cmd: Some(vec![
                        "sh".into(),
                        "-c".into(),
                        "cat /data/f; echo oops >&2; exit 3".into(),
                    ]),
                    attach_stdout: true,
                    attach_stderr: true,
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        let out = c.run_exec(&exec, false).await.unwrap();
        assert_eq!(
            (out.stdout.as_slice(), out.stderr.as_slice()),
            (&b"kept\n"[..], &b"oops\n"[..])
        );
        let done = c.inspect_exec(&exec).await.unwrap();
        assert_eq!((done.running, done.exit_code), (false, 3), "{done:?}");

        let (stdout, stderr) = c.logs("tc-web").await.unwrap();
        assert_eq!(
            (stdout, stderr),
            (b"kept\n".to_vec(), b"to-stderr\n".to_vec())
        );

        c.stop_container("tc-web", Some(1)).await.unwrap();
        let exited = c.wait_container("tc-web", "not-running").await.unwrap();
        assert_eq!(exited.status_code, 137);
        c.remove_container("tc-web", false).await.unwrap();
        let gone = c.inspect_container("tc-web").await.unwrap_err();
        assert_eq!(gone.status(), Some(404), "{gone}");

        // The volume outlives the container; the network is empty again.
        assert!(c
            .list_volumes()
            .await
            .unwrap()
            .volumes
            .unwrap_or_default()
            .iter()
            .any(|v| v.name == "tc-vol"));
        c.remove_volume("tc-vol", false).await.unwrap();
        c.remove_network("tc-net").await.unwrap();
        let gone = c.inspect_network("tc-net").await.unwrap_err();
        assert_eq!(gone.status(), Some(404), "{gone}");
    });
}

#[test]
fn a_typed_client_pulls_with_progress_and_reports_errors() {
    let d = Daemon::start();
    let port = free_port();
    let (_registry, _dir) = plain_registry(&d, "docker-registry", "tc", port);
    let host = format!("127.0.0.1:{port}");
    d.docker(&["tag", "busybox", &format!("{host}/tc/busybox:v1")])
        .ok();
    d.docker(&["push", &format!("{host}/tc/busybox:v1")]).ok();
    d.docker(&["rmi", &format!("{host}/tc/busybox:v1")]).ok();
    let c = client(&d);
    block_on(async {
        let mut statuses = Vec::new();
        c.pull(&format!("{host}/tc/busybox:v1"), None, |m| {
            statuses.extend(m.status.clone())
        })
        .await
        .unwrap();
        assert!(
            statuses.iter().any(|s| s.starts_with("Status: ")),
            "{statuses:?}"
        );
        assert!(c
            .list_images(false)
            .await
            .unwrap()
            .iter()
            .any(|i| i.repo_tags.contains(&format!("{host}/tc/busybox:v1"))));
        let missing = c
            .pull(&format!("{host}/tc/busybox:nope"), None, |_| {})
            .await
            .unwrap_err();
        assert!(missing.message().contains("not found"), "{missing}");
    });
}
