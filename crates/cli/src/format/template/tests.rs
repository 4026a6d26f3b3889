//! Templates as docker users write them, and Go's error texts.

use super::*;
use serde_json::json;

fn doc() -> Value {
    json!({
        "Name": "/web",
        "State": {"Status": "running", "Running": true, "Pid": 42, "Health": null},
        "Config": {"Env": ["A=1", "B=2"], "Cmd": null, "Labels": {"z": "1", "a": "2"}},
        "RestartCount": 0,
        "NetworkSettings": {"Networks": {"bridge": {"IPAddress": "172.17.0.2"}}}
    })
}

fn r(t: &str) -> String {
    Template::parse(t).unwrap().render(&doc()).unwrap()
}

#[test]
fn fields_and_functions() {
    assert_eq!(r("{{.State.Pid}}"), "42");
    assert_eq!(r("{{ .RestartCount }}"), "0");
    assert_eq!(r("{{json .Config.Env}}"), r#"["A=1","B=2"]"#);
    assert_eq!(r("{{join .Config.Env \",\"}}"), "A=1,B=2");
    assert_eq!(r("{{.Name | upper}}"), "/WEB");
    assert_eq!(r("{{.Name | lower | title}}"), "/Web");
    assert_eq!(r("{{index .Config.Labels \"a\"}}"), "2");
    assert_eq!(r("{{index .Config.Env 1}}"), "B=2");
    assert_eq!(r("{{len .Config.Env}}"), "2");
    assert_eq!(r("{{split \"a:b:c\" \":\"}}"), "[a b c]");
    assert_eq!(
        r("{{printf \"%s-%d|%5s|%-3d|\" .Name .State.Pid \"x\" 7}}"),
        "/web-42|    x|7  |"
    );
    assert_eq!(r("{{println .Name}}"), "/web\n");
    assert_eq!(r("{{truncate .Name 2}}|{{pad .Name 1 1}}"), "/w| /web ");
    assert_eq!(r("{{(index .Config.Env 0) | len}}"), "3");
    assert_eq!(
        r("{{.Config.Cmd}} {{.State.Health}} {{.Config.Labels}}"),
        "[] <nil> map[a:2 z:1]"
    );
    assert_eq!(r("{{json .State.Health}}"), "null");
    assert_eq!(r("{{json \"<a>\"}}"), "\"\\u003ca\\u003e\"");
}

#[test]
fn control_flow() {
    assert_eq!(r("{{range .Config.Env}}{{.}};{{end}}"), "A=1;B=2;");
    assert_eq!(
        r("{{range $i, $e := .Config.Env}}{{$i}}={{$e}} {{end}}"),
        "0=A=1 1=B=2 "
    );
    assert_eq!(
        r("{{range $k, $v := .NetworkSettings.Networks}}{{$k}} {{$v.IPAddress}}{{end}}"),
        "bridge 172.17.0.2"
    );
    assert_eq!(r("{{range .Config.Cmd}}x{{else}}none{{end}}"), "none");
    assert_eq!(r("{{if .State.Running}}up{{else}}down{{end}}"), "up");
    assert_eq!(r("{{if eq .State.Status \"exited\"}}a{{else if eq .State.Status \"running\"}}b{{else}}c{{end}}"), "b");
    assert_eq!(
        r("{{if and .State.Running (gt .State.Pid 1)}}y{{end}}"),
        "y"
    );
    assert_eq!(r("{{if not .RestartCount}}zero{{end}}"), "zero");
    assert_eq!(r("{{with .State}}{{.Status}}{{end}}"), "running");
    assert_eq!(r("{{$n := .Name}}{{$n}}"), "/web");
    assert_eq!(r("{{- /* c */ -}} a {{- .Name -}} b"), "a/webb");
    assert_eq!(r("{{range .Config.Env -}}\n  {{.}}\n{{- end}}"), "A=1B=2");
    assert_eq!(r("{{.State.Status}}\\t{{.Name}}"), "running\t/web");
}

#[test]
fn errors_read_like_go() {
    let e = Template::parse("{{.State.Nope}}")
        .unwrap()
        .render(&doc())
        .unwrap_err();
    assert_eq!(
        e,
        "template: :1:8: executing \"\" at <.State.Nope>: map has no entry for key \"Nope\""
    );
    let e = Template::parse("{{.Nope}}")
        .unwrap()
        .render_with(
            &doc(),
            &Missing::Field("*formatter.ContainerContext".into()),
        )
        .unwrap_err();
    assert_eq!(e, "template: :1:2: executing \"\" at <.Nope>: can't evaluate field Nope in type *formatter.ContainerContext");
    assert_eq!(
        Template::parse("{{.ID").unwrap_err(),
        "template: :1: unclosed action"
    );
    assert!(Template::parse("{{if .A}}x").is_err());
    // A constant given an argument: the proptests found this one without
    // the template prefix.
    assert_eq!(
        Template::parse("{{\"a,b\".}}")
            .unwrap()
            .render(&doc())
            .unwrap_err(),
        "template: :1: executing \"\": can't give argument to non-function a,b"
    );
    assert!(Template::parse("{{nope .A}}")
        .unwrap()
        .render(&doc())
        .is_err());
}

#[test]
fn a_missing_header_key_is_false_in_a_condition() {
    let t = Template::parse("table {{.Name}}{{if .Current}} *{{end}}\t{{.Current}}").unwrap();
    assert_eq!(
        t.render_header(&json!({"Name": "NAME"})),
        "NAME\t<no value>"
    );
}

#[test]
fn table_headers() {
    let t = Template::parse("table {{.ID}}\\t{{.Names}}\\t{{.Label \"com.x-y\"}}").unwrap();
    assert!(t.table);
    let h = json!({"ID": "CONTAINER ID", "Names": "NAMES"});
    assert_eq!(t.render_header(&h), "CONTAINER ID\tNAMES\tx y");
    let row = json!({"ID": "abc", "Names": "web", "Labels": "a=b,com.x-y=1"});
    assert_eq!(
        t.render_with(&row, &Missing::Field("T".into())).unwrap(),
        "abc\tweb\t1"
    );
    let t = Template::parse("table {{json .ID}}").unwrap();
    assert_eq!(t.render_header(&h), "CONTAINER ID");
}
