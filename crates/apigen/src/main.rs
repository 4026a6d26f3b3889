//! `cargo run -p berth-apigen`: regenerates crates/api/src/model/generated.rs.

fn main() -> anyhow::Result<()> {
    let root = berth_apigen::workspace_root();
    let spec = std::fs::read_to_string(root.join(berth_apigen::SPEC))?;
    let code = berth_apigen::rustfmt(&berth_apigen::generate(&spec)?)?;
    std::fs::write(root.join(berth_apigen::OUTPUT), code)?;
    Ok(())
}
