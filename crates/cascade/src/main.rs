//! The `cascade` binary: parses the command line and hands over to the command's module.
//! All logic lives in the library crates; this file only wires.

mod bench;
mod cli;
mod config;
mod demo;
mod image_cli;
mod listener;
mod operator;
mod server;
mod sim;
mod telemetry;

use clap::Parser;

fn main() -> anyhow::Result<()> {
    let cli = cli::Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        match cli.command {
            cli::Command::Serve(args) => server::serve(args).await,
            cli::Command::Demo(args) => demo::run(args).await,
            cli::Command::Sim(args) => sim::run(args).await,
            cli::Command::Pod(cmd) => operator::pod(cli.operator, cmd).await,
            cli::Command::Routing(cmd) => operator::routing(cli.operator, cmd).await,
            cli::Command::Image(cmd) => image_cli::run(cli.operator, cmd).await,
            cli::Command::Policy(cli::PolicyCommand::List { config }) => {
                operator::policy_list(config.as_deref(), cli.operator.format == "json")
            }
            cli::Command::Bench(args) => bench::run(args, cli.operator.format == "json").await,
        }
    })
}
