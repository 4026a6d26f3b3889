//! `network` flags, bodies and printing as the docker CLI 28 makes them.

use super::*;
use super::{attach::*, connect::*, create::*, inspect::*, ls::*, port::*};
use clap::Parser;
use serde_json::{json, Value};

#[derive(Parser)]
struct T {
    #[command(subcommand)]
    cmd: NetworkCmd,
}

fn parse(args: &[&str]) -> Result<NetworkCmd, clap::Error> {
    let mut v = vec!["network"];
    v.extend_from_slice(args);
    T::try_parse_from(v).map(|t| t.cmd)
}

fn create_args(args: &[&str]) -> CreateArgs {
    let mut v = vec!["create"];
    v.extend_from_slice(args);
    match parse(&v) {
        Ok(NetworkCmd::Create(a)) => a,
        other => panic!("not a create: {other:?}"),
    }
}

/// The create body for these flags, as the JSON sent.
fn body_json(args: &[&str]) -> Value {
    serde_json::to_value(create_body(&create_args(args)).unwrap()).unwrap()
}

#[test]
fn create_flags_build_dockers_body() {
    let a = create_args(&[
        "-d",
        "bridge",
        "--subnet",
        "10.9.0.0/24",
        "--gateway",
        "10.9.0.254",
        "--ip-range",
        "10.9.0.130/25",
        "--internal",
        "--attachable",
        "--label",
        "a=b",
        "--label",
        "flag",
        "-o",
        "com.docker.network.bridge.name=bcnx",
        "--aux-address",
        "host=10.9.0.5",
        "n1",
    ]);
    let b = create_body(&a).unwrap();
    assert_eq!(
        serde_json::to_string(&b).unwrap(),
        r#"{"Driver":"bridge","Scope":"","IPAM":{"Driver":"default","Options":{},"Config":[{"Subnet":"10.9.0.0/24","IPRange":"10.9.0.130/25","Gateway":"10.9.0.254","AuxiliaryAddresses":{"host":"10.9.0.5"}}]},"Internal":true,"Attachable":true,"Ingress":false,"ConfigOnly":false,"ConfigFrom":null,"Options":{"com.docker.network.bridge.name":"bcnx"},"Labels":{"a":"b","flag":""},"Name":"n1"}"#
    );
    // Defaults: bridge, the default IPAM driver, no config.
    let d = body_json(&["plain"]);
    assert_eq!(d["Driver"], "bridge");
    assert_eq!(
        d["IPAM"],
        json!({"Driver": "default", "Options": {}, "Config": []})
    );
    assert!(d.get("EnableIPv6").is_none());
    let v6 = body_json(&["--ipv6", "x"]);
    assert_eq!(v6["EnableIPv6"], json!(true));
    let no6 = body_json(&["--ipv6=false", "x"]);
    assert_eq!(no6["EnableIPv6"], json!(false));
    // Comma-separated slices, as pflag's StringSlice.
    let two = body_json(&["--subnet", "10.1.0.0/24,10.2.0.0/24", "x"]);
    assert_eq!(two["IPAM"]["Config"].as_array().unwrap().len(), 2);
}

#[test]
fn create_rejects_what_docker_rejects() {
    let err = |args: &[&str]| create_body(&create_args(args)).unwrap_err().message;
    assert_eq!(
        err(&["--gateway", "10.0.0.1", "x"]),
        "every ip-range or gateway must have a corresponding subnet"
    );
    assert_eq!(
        err(&["--subnet", "10.0.0.0/16", "--subnet", "10.0.1.0/24", "x"]),
        "multiple overlapping subnet configuration is not supported"
    );
    assert_eq!(
        err(&["--subnet", "10.0.0.0/24", "--gateway", "10.1.0.1", "x"]),
        "no matching subnet for gateway 10.1.0.1"
    );
    assert_eq!(
        err(&["--subnet", "10.0.0.0/24", "--ip-range", "10.1.0.0/25", "x"]),
        "no matching subnet for range 10.1.0.0/25"
    );
    assert_eq!(
        err(&["--subnet", "10.0.0.0/24", "--subnet", "nope", "x"]),
        "invalid subnet: invalid CIDR address: nope"
    );
    // A lone subnet goes to the daemon as typed.
    assert_eq!(
        body_json(&["--subnet", "nope", "x"])["IPAM"]["Config"],
        json!([{"Subnet": "nope"}])
    );
    assert_eq!(
        err(&["--subnet", "10.0.0.0/24", "--gateway", "bad", "x"]),
        "no matching subnet for gateway bad"
    );
    assert_eq!(
        err(&["--subnet", "10.0.0.0/24", "--ip-range", "bad", "x"]),
        "invalid CIDR address: bad"
    );
    assert_eq!(
        err(&[
            "--subnet",
            "10.0.0.0/24",
            "--aux-address",
            "a=10.1.0.1",
            "x"
        ]),
        "no matching subnet for aux-address 10.1.0.1"
    );
    assert!(err(&["--label", "=v", "x"]).starts_with(
        "invalid argument \"=v\" for \"--label\" flag: invalid label '=v': empty name"
    ));
    assert!(parse(&["create"]).is_err());
    assert!(parse(&["create", "--bogus", "x"]).is_err());
}

#[test]
fn ls_inspect_rm_prune_flags() {
    match parse(&[
        "ls",
        "-q",
        "--no-trunc",
        "-f",
        "name=a",
        "--format",
        "{{.Name}}",
    ]) {
        Ok(NetworkCmd::Ls(a)) => {
            assert!(a.quiet && a.no_trunc);
            assert_eq!(a.filter, ["name=a"]);
            assert_eq!(a.format.as_deref(), Some("{{.Name}}"));
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(parse(&["list"]), Ok(NetworkCmd::Ls(_))));
    match parse(&["inspect", "-f", "{{.Name}}", "a", "b"]) {
        Ok(NetworkCmd::Inspect(a)) => assert_eq!(a.names, ["a", "b"]),
        other => panic!("{other:?}"),
    }
    assert!(parse(&["inspect"]).is_err());
    match parse(&["remove", "-f", "a", "b"]) {
        Ok(NetworkCmd::Rm(a)) => assert!(a.force && a.names == ["a", "b"]),
        other => panic!("{other:?}"),
    }
    match parse(&["prune", "-f", "--filter", "label=x"]) {
        Ok(NetworkCmd::Prune(a)) => assert!(a.force && a.filter == ["label=x"]),
        other => panic!("{other:?}"),
    }
    assert!(parse(&["prune", "extra"]).is_err());
    assert_eq!(ls_format(None, true), "{{.ID}}");
    assert_eq!(ls_format(Some("{{.Name}}"), true), "{{.Name}}");
    assert_eq!(ls_format(Some("table"), false), LS_TABLE);
}

#[test]
fn connect_and_disconnect_flags() {
    match parse(&[
        "connect", "--alias", "a,b", "--alias", "c", "--ip", "10.0.0.9", "n", "ctr",
    ]) {
        Ok(NetworkCmd::Connect(a)) => {
            let b = serde_json::to_value(connect_body(&a)).unwrap();
            assert_eq!(b["Container"], "ctr");
            assert_eq!(b["EndpointConfig"]["Aliases"], json!(["a", "b", "c"]));
            assert_eq!(b["EndpointConfig"]["IPAMConfig"]["IPv4Address"], "10.0.0.9");
        }
        other => panic!("{other:?}"),
    }
    match parse(&["connect", "n", "ctr"]) {
        Ok(NetworkCmd::Connect(a)) => {
            let b = serde_json::to_value(connect_body(&a)).unwrap();
            let ep = &b["EndpointConfig"];
            assert_eq!(
                (
                    &ep["IPAMConfig"],
                    &ep["Aliases"],
                    &ep["DriverOpts"],
                    &ep["Links"]
                ),
                (&json!({}), &json!([]), &json!({}), &Value::Null)
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(parse(&["connect", "n"]).is_err());
    match parse(&["disconnect", "-f", "n", "c"]) {
        Ok(NetworkCmd::Disconnect(a)) => assert!(a.force && a.network == "n"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn natural_order() {
    let mut v: Vec<String> = ["net10", "net2", "bridge", "net02", "a"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    natural_sort(&mut v);
    assert_eq!(v, ["a", "bridge", "net2", "net02", "net10"]);
    assert!(natural_less(
        "80/tcp -> 0.0.0.0:8080",
        "443/tcp -> 0.0.0.0:8443"
    ));
}

#[test]
fn indents_like_go() {
    let raw = br#"{"a":[],"b":{},"c":[1,{"d":"x, y: {z}"}],"e":"q\"}"}"#;
    assert_eq!(
        go_indent(raw),
        "{\n    \"a\": [],\n    \"b\": {},\n    \"c\": [\n        1,\n        {\n            \"d\": \"x, y: {z}\"\n        }\n    ],\n    \"e\": \"q\\\"}\"\n}"
    );
}

#[test]
fn compacts_like_go() {
    assert_eq!(
        go_compact(b"{ \"a\" : [ 1, \"x \\\" y\" ] }\n"),
        "{\"a\":[1,\"x \\\" y\"]}"
    );
}

#[test]
fn times_like_go() {
    assert_eq!(
        go_time_string("2026-12-01T07:05:00.1234Z"),
        "2026-12-01 07:05:00.1234 +0000 UTC"
    );
    assert_eq!(
        go_rfc3339_nano("2026-12-01T07:15:40.389477430Z"),
        "2026-12-01T07:15:40.38947743Z"
    );
    assert_eq!(
        go_time_string("2026-12-01T07:05:00Z"),
        "2026-12-01 07:05:00 +0000 UTC"
    );
}

#[test]
fn ports_like_docker() {
    let p = json!({
        "80/tcp": [{"HostIp": "0.0.0.0", "HostPort": "8080"}, {"HostIp": "::", "HostPort": "8080"}],
        "53/udp": [{"HostIp": "127.0.0.1", "HostPort": "5353"}],
        "9/tcp": null,
    });
    assert_eq!(
        port_lines(&p, None, "c").unwrap(),
        [
            "53/udp -> 127.0.0.1:5353",
            "80/tcp -> 0.0.0.0:8080",
            "80/tcp -> [::]:8080"
        ]
    );
    assert_eq!(
        port_lines(&p, Some("80"), "c").unwrap(),
        ["0.0.0.0:8080", "[::]:8080"]
    );
    assert_eq!(
        port_lines(&p, Some("9"), "c").unwrap_err().message,
        "Error: No public port '9' published for c"
    );
    assert_eq!(
        port_lines(&p, Some("81/udp"), "web").unwrap_err().message,
        "Error: No public port '81/udp' published for web"
    );
    assert_eq!(
        port_lines(&p, Some("x"), "c").unwrap_err().message,
        "Error: invalid port (x): strconv.ParseUint: parsing \"x\": invalid syntax"
    );
}

fn create_opts(args: &[&str]) -> crate::commands::opts::CreateOpts {
    #[derive(Parser)]
    #[command(disable_help_flag = true)]
    struct C {
        #[command(flatten)]
        o: crate::commands::opts::CreateOpts,
    }
    let mut v = vec!["create"];
    v.extend_from_slice(args);
    v.push("busybox");
    C::try_parse_from(v)
        .map(|c| c.o)
        .expect("create flags parse")
}

/// `endpoints_config` with the endpoints as the JSON they are sent as.
fn endpoints_json(
    o: &crate::commands::opts::CreateOpts,
) -> Result<(String, Value), crate::Failure> {
    endpoints_config(o).map(|(mode, eps)| (mode, serde_json::to_value(eps).unwrap()))
}

#[test]
fn run_network_flags_as_docker_sends_them() {
    // No --network: an entry for `default`, carrying the MAC address.
    let (mode, eps) =
        endpoints_json(&create_opts(&["--mac-address", "02:42:aa:bb:cc:01"])).unwrap();
    assert_eq!(mode, "default");
    assert_eq!(eps["default"]["MacAddress"], "02:42:aa:bb:cc:01");
    assert_eq!(eps["default"]["IPAMConfig"], Value::Null);
    // A lone network with nothing set: no entry.
    let (mode, eps) = endpoints_json(&create_opts(&["--network", "bridge"])).unwrap();
    assert_eq!(mode, "bridge");
    assert_eq!(eps, json!({}));
    // The container-wide flags land on the first network.
    let (mode, eps) = endpoints_json(&create_opts(&[
        "--net",
        "n1",
        "--network-alias",
        "a",
        "--ip",
        "10.0.0.5",
        "--ip6",
        "fd00::5",
    ]))
    .unwrap();
    assert_eq!(mode, "n1");
    assert_eq!(eps["n1"]["Aliases"], json!(["a"]));
    assert_eq!(
        eps["n1"]["IPAMConfig"],
        json!({"IPv4Address": "10.0.0.5", "IPv6Address": "fd00::5"})
    );
    // The long form, lower-cased as docker does.
    let (_, eps) =
        endpoints_json(&create_opts(&["--network", "name=N1,alias=ZZ,ip=10.0.0.6"])).unwrap();
    assert_eq!(eps["n1"]["Aliases"], json!(["zz"]));
    let (_, eps) = endpoints_json(&create_opts(&["--network", "n1", "--network", "n2"])).unwrap();
    assert_eq!(eps.as_object().map(|m| m.len()), Some(2));
    let err = |args: &[&str]| endpoints_json(&create_opts(args)).unwrap_err();
    let e = err(&["--network-alias", "x"]);
    assert_eq!(
        (e.code, e.message.as_str()),
        (
            125,
            "network-scoped aliases are only supported for user-defined networks"
        )
    );
    assert_eq!(
        err(&["--network", "n1", "--network", "bridge"]).message,
        "conflicting options: cannot attach both user-defined and non-user-defined network-modes"
    );
    assert_eq!(
        err(&["--network", "n1", "--network", "n1"]).message,
        "network \"n1\" is specified multiple times"
    );
    assert_eq!(
        err(&["--network", "name=n1,bogus=1"]).message,
        "invalid argument \"name=n1,bogus=1\" for \"--network\" flag: invalid field key bogus"
    );
    assert_eq!(
        err(&["--network", "alias=x"]).message,
        "invalid argument \"alias=x\" for \"--network\" flag: network name not specified"
    );
    assert_eq!(
        err(&["--network", "name=n1,alias=a", "--network-alias", "b"]).message,
        "conflicting options: cannot specify both --network-alias and per-network alias"
    );
    assert_eq!(
        err(&["--mac-address", "zz"]).message,
        "zz is not a valid mac address"
    );
    let o = create_opts(&[
        "--dns-search",
        "ex.test",
        "--dns-opt",
        "ndots:2",
        "--dns-option",
        "x",
    ]);
    let b =
        serde_json::to_value(crate::commands::opts::create_body(&o, false, None).unwrap()).unwrap();
    assert_eq!(b["HostConfig"]["DnsSearch"], json!(["ex.test"]));
    assert_eq!(b["HostConfig"]["DnsOptions"], json!(["ndots:2", "x"]));
}
