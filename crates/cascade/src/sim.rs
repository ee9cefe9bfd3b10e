//! `cascade sim`: simulated OpenStack regions on their own, trusting a given Keystone.

use std::time::Duration;

use anyhow::Context;
use cascade_sim::{RegionSpec, SimConfig};

use crate::cli::SimArgs;

pub(crate) async fn run(args: SimArgs) -> anyhow::Result<()> {
    crate::telemetry::init("pretty", "warn");
    let identity = args
        .identity_url
        .trim_end_matches('/')
        .trim_end_matches("/v3")
        .to_string();
    let regions = (1..=args.regions)
        .map(|i| {
            let mut r = RegionSpec::new(format!("{}{i}", args.prefix), format!("az{i}"));
            r.build_time = Duration::from_secs(args.build_secs);
            r
        })
        .collect();
    let mut config = SimConfig::new(identity, regions);
    config.listen_ip = args.listen.ip();
    config.base_port = args.listen.port();
    config.state_file = args.state_file.clone();
    let sim = cascade_sim::start(config)
        .await
        .context("cannot start the simulated regions")?;
    let mut table = comfy_table::Table::new();
    table.load_preset(comfy_table::presets::ASCII_FULL_CONDENSED);
    table.set_header([
        "Region",
        "AZ",
        "Identity (OS_AUTH_URL)",
        "Compute",
        "Network",
        "Volume",
        "Image",
    ]);
    for r in sim.regions() {
        table.add_row([
            r.name,
            r.az,
            r.identity_url,
            r.compute_url,
            r.network_url,
            r.volume_url,
            r.image_url,
        ]);
    }
    println!("{table}");
    println!("Stop with Ctrl-C.");
    crate::server::shutdown_signal().await;
    sim.shutdown().await;
    Ok(())
}
