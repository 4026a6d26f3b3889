use indexmap::IndexMap;
use serde::Deserialize;

use super::{from_body, from_slice};

#[derive(Debug, Default, PartialEq, Deserialize)]
#[serde(default)]
struct Inner {
    #[serde(rename = "Name")]
    name: String,
    #[serde(rename = "Count")]
    count: i64,
}

#[derive(Debug, Default, PartialEq, Deserialize)]
#[serde(default)]
struct Outer {
    #[serde(rename = "Text")]
    text: String,
    #[serde(rename = "Int")]
    int: i64,
    #[serde(rename = "Small")]
    small: u16,
    #[serde(rename = "Float")]
    float: f64,
    #[serde(rename = "Flag")]
    flag: bool,
    #[serde(rename = "List")]
    list: Vec<String>,
    #[serde(rename = "MaybeList")]
    maybe_list: Option<Vec<String>>,
    #[serde(rename = "Map")]
    map: IndexMap<String, String>,
    #[serde(rename = "Ptr")]
    ptr: Option<i64>,
    #[serde(rename = "Inner")]
    inner: Inner,
    #[serde(rename = "Inners")]
    inners: Vec<Inner>,
    #[serde(rename = "Keyed")]
    keyed: IndexMap<String, Inner>,
    #[serde(rename = "Any")]
    any: serde_json::Value,
}

fn decode(text: &str) -> Outer {
    from_slice(text.as_bytes()).unwrap_or_else(|e| panic!("{text}: {}", e.message))
}

fn error(text: &str) -> String {
    from_slice::<Outer>(text.as_bytes()).unwrap_err().message
}

#[test]
fn null_is_each_kinds_zero_value() {
    let o = decode(
        r#"{"Text":null,"Int":null,"Small":null,"Float":null,"Flag":null,"List":null,
            "MaybeList":null,"Map":null,"Ptr":null,"Inner":null,"Inners":null,
            "Keyed":null,"Any":null}"#,
    );
    assert_eq!(o, Outer::default());
    // Inside lists and maps too.
    let o = decode(r#"{"List":["a",null],"Inners":[null,{"Name":null}],"Keyed":{"k":null}}"#);
    assert_eq!(o.list, ["a", ""]);
    assert_eq!(o.inners, [Inner::default(), Inner::default()]);
    assert_eq!(o.keyed["k"], Inner::default());
    // A whole null document is the zero value as well.
    assert_eq!(decode("null"), Outer::default());
}

#[test]
fn present_values_decode() {
    let o = decode(
        r#"{"Text":"t","Int":-3,"Small":8080,"Float":1.5,"Flag":true,"List":["x"],
            "MaybeList":[],"Map":{"a":"b"},"Ptr":0,"Inner":{"Name":"n","Count":2},
            "Any":{"deep":[1,null]}}"#,
    );
    assert_eq!(o.text, "t");
    assert_eq!(o.int, -3);
    assert_eq!(o.small, 8080);
    assert_eq!(o.float, 1.5);
    assert!(o.flag);
    assert_eq!(o.list, ["x"]);
    assert_eq!(o.maybe_list, Some(vec![]));
    assert_eq!(o.map["a"], "b");
    assert_eq!(o.ptr, Some(0));
    assert_eq!(
        o.inner,
        Inner {
            name: "n".into(),
            count: 2
        }
    );
    assert_eq!(o.any, serde_json::json!({"deep": [1, null]}));
}

#[test]
fn keys_match_case_insensitively_and_exact_wins() {
    let o = decode(r#"{"text":"a","INT":4,"inner":{"nAmE":"x"}}"#);
    assert_eq!(o.text, "a");
    assert_eq!(o.int, 4);
    assert_eq!(o.inner.name, "x");
    // Two keys for one field: the last one wins, as Go overwrites.
    assert_eq!(decode(r#"{"text":"a","Text":"b"}"#).text, "b");
    assert_eq!(decode(r#"{"Text":"b","text":"a"}"#).text, "a");
    // Map keys are data, never folded.
    let o = decode(r#"{"map":{"Key":"1","key":"2"}}"#);
    assert_eq!(o.map.len(), 2);
}

/// Two fields that differ only by case: an exact key goes to its own field.
#[test]
fn exact_match_wins_over_folded() {
    #[derive(Debug, Default, Deserialize)]
    #[serde(default)]
    struct Two {
        #[serde(rename = "ID")]
        upper: String,
        #[serde(rename = "Id")]
        mixed: String,
    }
    let t: Two = from_slice(br#"{"Id":"m","ID":"u"}"#).unwrap();
    assert_eq!((t.upper.as_str(), t.mixed.as_str()), ("u", "m"));
    // A folded key takes the first field that matches, as Go's decoder.
    let t: Two = from_slice(br#"{"id":"x"}"#).unwrap();
    assert_eq!((t.upper.as_str(), t.mixed.as_str()), ("x", ""));
}

#[test]
fn unknown_fields_are_ignored() {
    let o = decode(r#"{"Text":"a","Bogus":1,"Inner":{"Runtime":"x","Name":"n"}}"#);
    assert_eq!(o.text, "a");
    assert_eq!(o.inner.name, "n");
}

#[test]
fn wrong_types_name_the_field_as_go_does() {
    assert_eq!(
        error(r#"{"Int":"lots"}"#),
        "json: cannot unmarshal string into Go struct field Int of type int64"
    );
    assert_eq!(
        error(r#"{"Inner":{"Count":"x"}}"#),
        "json: cannot unmarshal string into Go struct field Inner.Count of type int64"
    );
    assert_eq!(
        error(r#"{"Inners":[{"Name":5}]}"#),
        "json: cannot unmarshal number 5 into Go struct field Inners.Name of type string"
    );
    assert_eq!(
        error(r#"{"Small":70000}"#),
        "json: cannot unmarshal number 70000 into Go struct field Small of type uint16"
    );
    assert_eq!(
        error(r#"{"Int":1.5}"#),
        "json: cannot unmarshal number 1.5 into Go struct field Int of type int64"
    );
    assert!(error(r#"{"List":"x"}"#).contains("field List"));
    assert!(error(r#"{"Flag":"true"}"#).contains("field Flag of type bool"));
    assert!(error(r#"{"Inner":[]}"#).contains("array into Go struct field Inner"));
    assert!(error("[1]").contains("array into Go value of type Outer"));
    assert!(error("{").starts_with("invalid JSON: "));
}

#[test]
fn empty_body_is_the_zero_value_where_asked() {
    assert_eq!(from_body::<Outer>(b"").unwrap(), Outer::default());
    assert_eq!(from_body::<Outer>(b" \n").unwrap(), Outer::default());
    assert!(from_slice::<Outer>(b"").is_err());
}

/// The hand-kept create types decode leniently too.
#[test]
fn host_config_takes_nulls_and_odd_case() {
    let hc: crate::HostConfig = from_slice(
        br#"{"memory":1024,"restartpolicy":{"name":"always","MaximumRetryCount":null},
            "Binds":null,"LogConfig":null,"PortBindings":{"80/tcp":null},"Whatever":true}"#,
    )
    .unwrap();
    assert_eq!(hc.memory, 1024);
    assert_eq!(hc.restart_policy.name, "always");
    assert_eq!(hc.port_bindings.unwrap()["80/tcp"], None);
}

/// The create body: `Config` fields at top level beside `HostConfig` and
/// `NetworkingConfig`, endpoint settings given their canonical names.
#[test]
fn create_body_embeds_config_beside_host_and_networking() {
    let b = crate::types::CreateBody::parse(
        br#"{"image":"busybox","Bogus":1,"Healthcheck":{"Test":["CMD","true"],"Interval":null},
            "hostconfig":{"Memory":5,"Runtime":"runc"},
            "networkingconfig":{"EndpointsConfig":{"n1":{"aliases":["a"],
                "ipamconfig":{"ipv4address":"10.0.0.2"}},"n2":null}}}"#,
    )
    .unwrap();
    assert_eq!(b.config.image, "busybox");
    assert_eq!(b.config.healthcheck.unwrap().interval, 0);
    assert_eq!(b.host_config.memory, 5);
    assert_eq!(b.host_config.runtime, "runc");
    let eps = b.networking_config.endpoints_config.unwrap();
    assert_eq!(eps["n1"].aliases, Some(vec!["a".to_string()]));
    assert_eq!(
        eps["n1"].ipam_config.as_ref().unwrap().i_pv4_address,
        "10.0.0.2"
    );
    assert_eq!(eps["n2"].aliases, None);
    assert_eq!(
        crate::types::CreateBody::parse(b"").unwrap(),
        crate::types::CreateBody::default()
    );
    let e = crate::types::CreateBody::parse(br#"{"Image":"b","HostConfig":{"Memory":"x"}}"#)
        .unwrap_err();
    assert_eq!(
        e.message,
        "json: cannot unmarshal string into Go struct field HostConfig.Memory of type int64"
    );
}
