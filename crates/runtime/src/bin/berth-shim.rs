//! `berth-shim <state_dir>/shim.json`: see `berth_runtime::shim`.

fn main() {
    let Some(config) = std::env::args_os().nth(1) else {
        eprintln!("usage: berth-shim SHIM_JSON");
        std::process::exit(2);
    };
    std::process::exit(berth_runtime::shim::main(std::path::Path::new(&config)));
}
