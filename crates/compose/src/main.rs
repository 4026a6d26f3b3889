//! `berth-compose`: compose as its own binary and as the docker CLI's
//! `docker compose` plugin (placed as `~/.docker/cli-plugins/docker-compose`).

fn main() {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("docker-cli-plugin-metadata") {
        println!("{}", berth_compose::plugin_metadata());
        return;
    }
    // Run by the docker CLI as a plugin, the first argument is the plugin's
    // name (`compose`).
    if args.first().map(String::as_str) == Some("compose") {
        args.remove(0);
    }
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("berth-compose: {e}");
            std::process::exit(1);
        }
    };
    let code = rt.block_on(berth_compose::run(args));
    std::process::exit(code);
}
