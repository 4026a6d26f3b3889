//! The loader's rules, each on real files in a scratch directory.

use std::path::Path;

use super::*;

fn write(dir: &Path, name: &str, text: &str) {
    std::fs::write(dir.join(name), text).unwrap();
}

fn opts(dir: &Path) -> LoadOptions {
    LoadOptions {
        cwd: dir.to_path_buf(),
        ..LoadOptions::default()
    }
}

fn scratch(name: &str) -> (tempfile::TempDir, PathBuf) {
    let t = tempfile::tempdir().unwrap();
    let d = t.path().join(name);
    std::fs::create_dir(&d).unwrap();
    (t, d)
}

#[test]
fn project_name_rules() {
    assert_eq!(normalize_project_name("My_App.v2"), "my_appv2");
    assert_eq!(normalize_project_name("-_x"), "x");
    let (_t, d) = scratch("Some Dir");
    write(&d, "compose.yaml", "services:\n  a:\n    image: x\n");
    assert_eq!(load(&opts(&d)).unwrap().name, "somedir");
    write(
        &d,
        "compose.yaml",
        "name: named\nservices:\n  a:\n    image: x\n",
    );
    assert_eq!(load(&opts(&d)).unwrap().name, "named");
    let mut o = opts(&d);
    o.env
        .insert("COMPOSE_PROJECT_NAME".into(), "fromenv".into());
    assert_eq!(load(&o).unwrap().name, "fromenv");
    o.project_name = Some("flag".into());
    assert_eq!(load(&o).unwrap().name, "flag");
    o.project_name = Some("Bad Name".into());
    assert!(load(&o)
        .unwrap_err()
        .to_string()
        .contains("invalid project name"));
}

#[test]
fn discovery_override_and_compose_file() {
    let (_t, d) = scratch("p");
    write(
        &d,
        "docker-compose.yml",
        "services:\n  a:\n    image: x\n    environment: [A=1]\n",
    );
    write(
        &d,
        "docker-compose.override.yml",
        "services:\n  a:\n    environment:\n      B: 2\n  b:\n    image: y\n",
    );
    let p = load(&opts(&d)).unwrap();
    assert_eq!(p.config_files.len(), 2);
    let a = &p.model.services["a"];
    assert_eq!(a.environment["A"].as_deref(), Some("1"));
    assert_eq!(a.environment["B"].as_deref(), Some("2"));
    assert!(p.model.services.contains_key("b"));
    write(&d, "other.yml", "services:\n  c:\n    image: z\n");
    let mut o = opts(&d);
    o.env.insert("COMPOSE_FILE".into(), "other.yml".into());
    let p = load(&o).unwrap();
    assert_eq!(p.model.services.keys().collect::<Vec<_>>(), vec!["c"]);
}

#[test]
fn several_files_merge_in_order() {
    let (_t, d) = scratch("p");
    write(
        &d,
        "a.yml",
        "services:\n  s:\n    image: one\n    ports: ['80:80']\n    command: a b\n",
    );
    write(
        &d,
        "b.yml",
        "services:\n  s:\n    image: two\n    ports: ['81:81']\n    command: c\n",
    );
    let mut o = opts(&d);
    o.files = vec!["a.yml".into(), "b.yml".into()];
    let p = load(&o).unwrap();
    let s = &p.model.services["s"];
    assert_eq!(s.image.as_deref(), Some("two"));
    assert_eq!(s.ports.len(), 2);
    assert_eq!(s.command, Some(vec!["c".to_string()]));
}

#[test]
fn dotenv_and_env_file_flag() {
    let (_t, d) = scratch("p");
    write(
        &d,
        "compose.yaml",
        "services:\n  s:\n    image: \"busybox:${TAG:-latest}\"\n",
    );
    assert_eq!(
        load(&opts(&d)).unwrap().model.services["s"]
            .image
            .as_deref(),
        Some("busybox:latest")
    );
    write(&d, ".env", "TAG=1.36\n");
    assert_eq!(
        load(&opts(&d)).unwrap().model.services["s"]
            .image
            .as_deref(),
        Some("busybox:1.36")
    );
    write(&d, "alt.env", "TAG=alt\n");
    let mut o = opts(&d);
    o.env_files = vec!["alt.env".into()];
    assert_eq!(
        load(&o).unwrap().model.services["s"].image.as_deref(),
        Some("busybox:alt")
    );
    // The process environment wins over the file.
    o.env.insert("TAG".into(), "proc".into());
    assert_eq!(
        load(&o).unwrap().model.services["s"].image.as_deref(),
        Some("busybox:proc")
    );
}

#[test]
fn profiles_filter_services() {
    let (_t, d) = scratch("p");
    write(
        &d,
        "compose.yaml",
        "services:\n  a:\n    image: x\n  dbg:\n    image: x\n    profiles: [debug]\n",
    );
    let p = load(&opts(&d)).unwrap();
    assert!(!p.model.services.contains_key("dbg"));
    assert!(p.disabled.contains_key("dbg"));
    let mut o = opts(&d);
    o.profiles = vec!["debug".into()];
    assert!(load(&o).unwrap().model.services.contains_key("dbg"));
}

#[test]
fn extends_same_and_other_file() {
    let (_t, d) = scratch("p");
    write(
        &d,
        "base.yml",
        "services:\n  tmpl:\n    image: base\n    environment: {A: '1'}\n",
    );
    write(
        &d,
        "compose.yaml",
        "services:\n  common:\n    image: c\n    labels: {l: v}\n  a:\n    extends: common\n    command: x\n  \
         b:\n    extends:\n      file: base.yml\n      service: tmpl\n    environment: {B: '2'}\n",
    );
    let p = load(&opts(&d)).unwrap();
    assert_eq!(p.model.services["a"].image.as_deref(), Some("c"));
    assert_eq!(p.model.services["a"].labels["l"], "v");
    let b = &p.model.services["b"];
    assert_eq!(b.image.as_deref(), Some("base"));
    assert_eq!(b.environment.len(), 2);
}

#[test]
fn errors_name_file_line_and_key() {
    let (_t, d) = scratch("p");
    write(
        &d,
        "compose.yaml",
        "services:\n  a:\n    image: x\n    imagee: y\n",
    );
    let e = load(&opts(&d)).unwrap_err().to_string();
    assert!(e.contains("compose.yaml:4:"), "{e}");
    assert!(
        e.contains("services.a additional properties 'imagee' not allowed"),
        "{e}"
    );
    write(
        &d,
        "compose.yaml",
        "services:\n  a:\n    image: ${X:?X must be set}\n",
    );
    let e = load(&opts(&d)).unwrap_err().to_string();
    assert!(e.contains("compose.yaml:3:"), "{e}");
    assert!(
        e.contains("required variable X is missing a value: X must be set"),
        "{e}"
    );
    write(
        &d,
        "compose.yaml",
        "services:\n  a:\n    image: x\n    privileged: maybe\n",
    );
    let e = load(&opts(&d)).unwrap_err().to_string();
    assert!(
        e.contains("compose.yaml:4:") && e.contains("services.a.privileged"),
        "{e}"
    );
    write(&d, "compose.yaml", "top: 1\nservices: {}\n");
    let e = load(&opts(&d)).unwrap_err().to_string();
    assert!(
        e.contains("(root) additional properties 'top' not allowed"),
        "{e}"
    );
}

#[test]
fn model_checks() {
    let (_t, d) = scratch("p");
    let cases = [
        (
            "services:\n  a:\n    image: x\n    depends_on: [b]\n  b:\n    image: x\n    depends_on: [c]\n  c:\n    image: x\n    depends_on: [a]\n",
            "dependency cycle detected: a -> b -> c -> a",
        ),
        ("services:\n  a:\n    image: x\n    depends_on: [nope]\n", "depends on undefined service \"nope\""),
        ("services:\n  a:\n    image: x\n    networks: [n]\n", "refers to undefined network n"),
        ("services:\n  a:\n    image: x\n    volumes: ['v:/v']\n", "refers to undefined volume v"),
        ("services:\n  a:\n    command: x\n", "has neither an image nor a build context"),
        ("services:\n  'a b':\n    image: x\n", "service name \"a b\" must only contain"),
        (
            "services:\n  a:\n    image: x\n    container_name: c\n    deploy: {replicas: 2}\n",
            "can't set container_name and a as container name must be unique",
        ),
        ("services:\n  a:\n    image: x\n    env_file: missing.env\n", "missing.env not found"),
    ];
    for (text, want) in cases {
        write(&d, "compose.yaml", text);
        let e = load(&opts(&d)).unwrap_err().to_string();
        assert!(e.contains(want), "{text}\n=> {e}");
    }
}

#[test]
fn env_file_under_environment() {
    let (_t, d) = scratch("p");
    write(&d, "app.env", "A=from-file\nB=from-file\n");
    write(
        &d,
        "compose.yaml",
        "services:\n  a:\n    image: x\n    env_file: app.env\n    environment: [B=inline]\n",
    );
    let p = load(&opts(&d)).unwrap();
    let env = &p.model.services["a"].environment;
    assert_eq!(env["A"].as_deref(), Some("from-file"));
    assert_eq!(env["B"].as_deref(), Some("inline"));
}

#[test]
fn version_one_file_and_default_network() {
    let (_t, d) = scratch("p");
    write(
        &d,
        "docker-compose.yml",
        "redis:\n  image: redis\nvote:\n  build: ./vote\n  ports:\n   - 5000:80\n  links:\n   - redis\n",
    );
    let p = load(&opts(&d)).unwrap();
    let vote = &p.model.services["vote"];
    assert_eq!(vote.links, vec!["redis".to_string()]);
    assert!(vote.build.as_ref().unwrap().context.ends_with("/p/vote"));
    assert_eq!(vote.ports[0].published.as_deref(), Some("5000"));
    assert_eq!(
        p.model.networks["default"].name.as_deref(),
        Some("p_default")
    );
}

#[test]
fn start_and_stop_order() {
    let (_t, d) = scratch("p");
    write(
        &d,
        "compose.yaml",
        "services:\n  web:\n    image: x\n    depends_on: [api]\n  api:\n    image: x\n    depends_on: [db]\n  db:\n    image: x\n  other:\n    image: x\n",
    );
    let p = load(&opts(&d)).unwrap();
    assert_eq!(validate_order(&p.model), vec!["db", "api", "web", "other"]);
    let levels = stop_levels(&p.model);
    assert_eq!(
        levels,
        vec![
            vec!["web".to_string(), "other".into()],
            vec!["api".into()],
            vec!["db".into()]
        ]
    );
}

#[test]
fn config_prints_the_normalised_model() {
    let (_t, d) = scratch("p");
    write(
        &d,
        "compose.yaml",
        "version: '3.8'\nservices:\n  web:\n    image: nginx\n    ports: ['127.0.0.1:8080:80']\n    environment: [A=1]\n    volumes: ['data:/d']\nvolumes:\n  data: {}\n",
    );
    let p = load(&opts(&d)).unwrap();
    let text = serde_yaml_ng::to_string(&p.model).unwrap();
    let want = "\
name: p
services:
  web:
    environment:
      A: '1'
    image: nginx
    networks:
      default: null
    ports:
    - mode: ingress
      host_ip: 127.0.0.1
      target: 80
      published: '8080'
      protocol: tcp
    volumes:
    - type: volume
      source: data
      target: /d
networks:
  default:
    name: p_default
volumes:
  data:
    name: p_data
";
    assert_eq!(text, want);
}

#[test]
fn include_brings_services_with_their_own_paths() {
    let (_t, d) = scratch("p");
    std::fs::create_dir(d.join("sub")).unwrap();
    write(
        &d.join("sub"),
        "compose.yaml",
        "services:\n  db:\n    build: ./db\n    volumes: ['./init:/init']\nvolumes:\n  data: {}\n",
    );
    write(
        &d,
        "compose.yaml",
        "include:\n  - sub/compose.yaml\nservices:\n  web:\n    image: x\n    depends_on: [db]\n",
    );
    let p = load(&opts(&d)).unwrap();
    let db = &p.model.services["db"];
    assert!(
        db.build.as_ref().unwrap().context.ends_with("/p/sub/db"),
        "{db:?}"
    );
    assert!(db.volumes[0]
        .source
        .as_ref()
        .unwrap()
        .ends_with("/p/sub/init"));
    assert!(p.model.volumes.contains_key("data"));
    assert!(p.model.services.contains_key("web"));
}
