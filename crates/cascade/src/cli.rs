//! The command line: `serve`, `demo`, `sim`, `policy list`, and the operator commands `pod …`
//! and `routing …`.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "cascade",
    version,
    about = "One OpenStack API over many OpenStack clouds"
)]
pub(crate) struct Cli {
    #[command(flatten)]
    pub(crate) operator: OperatorArgs,
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Run Cascade with a configuration file.
    Serve(ServeArgs),
    /// Run Cascade with simulated pods, SQLite and the embedded identity; print how to use it.
    Demo(DemoArgs),
    /// Run simulated OpenStack regions only.
    Sim(SimArgs),
    /// Manage pods (child clouds) through the admin API.
    #[command(subcommand)]
    Pod(PodCommand),
    /// Inspect the routing table through the admin API.
    #[command(subcommand)]
    Routing(RoutingCommand),
    /// The global Glance: where images' bytes are (pod copies), copies and register mode.
    #[command(subcommand)]
    Image(ImageCommand),
    /// The policy layer: every route's rule (defaults with `[policy]` overrides).
    #[command(subcommand)]
    Policy(PolicyCommand),
    /// Benchmarks of BENCHMARKS.md (Cascade in a child process, simulated pods in this one).
    Bench(crate::bench::BenchArgs),
}

#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    /// Path of the TOML configuration.
    #[arg(long, short, env = "CASCADE_CONFIG", default_value = "cascade.toml")]
    pub(crate) config: PathBuf,
    /// Write Cascade's URL to this file once it is serving (for scripts and tests).
    #[arg(long)]
    pub(crate) ready_file: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub(crate) enum PolicyCommand {
    /// Print the effective rule of every route: route, method, action, rule, and whether the
    /// configuration overrides it. Fails if a route has no rule or an override is invalid.
    List {
        /// Configuration whose `[policy]` overrides to apply (default: none, the defaults).
        #[arg(long, short, env = "CASCADE_CONFIG")]
        config: Option<PathBuf>,
    },
}

#[derive(Debug, Args)]
pub(crate) struct DemoArgs {
    /// Number of simulated pods (AZs az1..azN).
    #[arg(long, default_value_t = 3)]
    pub(crate) pods: usize,
    /// Where Cascade listens (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:5000")]
    pub(crate) listen: SocketAddr,
    /// Keep state here across runs (SQLite file, simulator state, generated credentials).
    /// Without it, every run starts fresh in a new temporary directory.
    #[arg(long)]
    pub(crate) data_dir: Option<PathBuf>,
    /// Seconds a simulated server stays in BUILD.
    #[arg(long, default_value_t = 2)]
    pub(crate) build_secs: u64,
    /// Log filter for the console (e.g. `info`, `cascade_core=debug`).
    #[arg(long, default_value = "warn")]
    pub(crate) log: String,
}

#[derive(Debug, Args)]
pub(crate) struct SimArgs {
    /// Number of regions.
    #[arg(long, default_value_t = 3)]
    pub(crate) regions: usize,
    /// Address of the first region; region i listens on port + i (port 0: ephemeral ports).
    #[arg(long, default_value = "127.0.0.1:0")]
    pub(crate) listen: SocketAddr,
    /// The Keystone that issues the tokens the regions accept (e.g. Cascade's `/identity`).
    #[arg(long, env = "OS_AUTH_URL")]
    pub(crate) identity_url: String,
    /// Region name prefix: regions are named PREFIX1..PREFIXn.
    #[arg(long, default_value = "Pod")]
    pub(crate) prefix: String,
    /// Seconds a server stays in BUILD.
    #[arg(long, default_value_t = 2)]
    pub(crate) build_secs: u64,
    /// Persist the regions' resources in this JSON file.
    #[arg(long)]
    pub(crate) state_file: Option<PathBuf>,
}

/// How operator commands reach and authenticate to Cascade (the `openstack` CLI's variables).
/// `Debug` never shows the password.
#[derive(Args)]
pub(crate) struct OperatorArgs {
    #[arg(long, global = true, env = "OS_AUTH_URL", hide_env_values = true)]
    pub(crate) os_auth_url: Option<String>,
    #[arg(long, global = true, env = "OS_USERNAME", hide_env_values = true)]
    pub(crate) os_username: Option<String>,
    #[arg(long, global = true, env = "OS_PASSWORD", hide_env_values = true)]
    pub(crate) os_password: Option<String>,
    #[arg(long, global = true, env = "OS_PROJECT_NAME", hide_env_values = true)]
    pub(crate) os_project_name: Option<String>,
    #[arg(
        long,
        global = true,
        env = "OS_USER_DOMAIN_NAME",
        default_value = "Default",
        hide_env_values = true
    )]
    pub(crate) os_user_domain_name: String,
    #[arg(
        long,
        global = true,
        env = "OS_PROJECT_DOMAIN_NAME",
        default_value = "Default",
        hide_env_values = true
    )]
    pub(crate) os_project_domain_name: String,
    /// Cascade's base URL (default: derived from OS_AUTH_URL by dropping `/identity…`).
    #[arg(long, global = true, env = "CASCADE_URL")]
    pub(crate) cascade_url: Option<String>,
    /// Output format.
    #[arg(long, short = 'f', global = true, default_value = "table", value_parser = ["table", "json"])]
    pub(crate) format: String,
}

impl std::fmt::Debug for OperatorArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OperatorArgs")
            .field("os_auth_url", &self.os_auth_url)
            .field("os_username", &self.os_username)
            .field(
                "os_password",
                &cascade_model::redact::opt(&self.os_password),
            )
            .field("os_project_name", &self.os_project_name)
            .field("cascade_url", &self.cascade_url)
            .field("format", &self.format)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Subcommand)]
pub(crate) enum PodCommand {
    /// List pods with their state.
    List,
    /// Show one pod.
    Show { pod_id: String },
    /// Register a pod.
    Add(Box<PodAddArgs>),
    /// Remove a pod (refused while resources are routed to it).
    Remove { pod_id: String },
    /// Put a pod into maintenance (no new placements) or take it out.
    Maintenance {
        pod_id: String,
        /// `on` or `off`.
        #[arg(value_parser = ["on", "off"])]
        mode: String,
    },
}

/// `Debug` never shows the password.
#[derive(Args)]
pub(crate) struct PodAddArgs {
    #[arg(long)]
    pub(crate) region_name: String,
    #[arg(long)]
    pub(crate) az_name: String,
    #[arg(long, default_value = "")]
    pub(crate) pod_az_name: String,
    #[arg(long, default_value = "")]
    pub(crate) dc_name: String,
    /// The pod's Keystone (default: Cascade's identity or the shared Keystone).
    #[arg(long)]
    pub(crate) auth_url: Option<String>,
    /// Explicit endpoint, `TYPE=URL` (repeatable).
    #[arg(long = "endpoint")]
    pub(crate) endpoints: Vec<String>,
    /// Capability label, `KEY=VALUE` (repeatable).
    #[arg(long = "capability")]
    pub(crate) capabilities: Vec<String>,
    #[arg(long)]
    pub(crate) username: Option<String>,
    #[arg(long)]
    pub(crate) password: Option<String>,
    /// `env:VARIABLE` or `file:/path`, resolved by Cascade at use time.
    #[arg(long)]
    pub(crate) password_ref: Option<String>,
    #[arg(long)]
    pub(crate) project_name: Option<String>,
    #[arg(long, default_value = "Default")]
    pub(crate) user_domain_name: String,
    #[arg(long, default_value = "Default")]
    pub(crate) project_domain_name: String,
}

impl std::fmt::Debug for PodAddArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PodAddArgs")
            .field("region_name", &self.region_name)
            .field("az_name", &self.az_name)
            .field("auth_url", &self.auth_url)
            .field("endpoints", &self.endpoints)
            .field("username", &self.username)
            .field("password", &cascade_model::redact::opt(&self.password))
            .field("password_ref", &self.password_ref)
            .field("project_name", &self.project_name)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Subcommand)]
pub(crate) enum RoutingCommand {
    /// List routing entries (newest first).
    List {
        #[arg(long)]
        top_id: Option<String>,
        #[arg(long)]
        bottom_id: Option<String>,
        #[arg(long)]
        pod_id: Option<String>,
        #[arg(long)]
        project_id: Option<String>,
        #[arg(long)]
        resource_type: Option<String>,
        #[arg(long)]
        limit: Option<i64>,
        #[arg(long)]
        marker: Option<i64>,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum ImageCommand {
    /// Show the pod copies of an image (or of every image) with their state and progress.
    Copies {
        /// Image id or name (default: every image).
        image: Option<String>,
        /// Refresh every second until no copy is pending or copying.
        #[arg(long)]
        watch: bool,
    },
    /// Copy an image to a pod now (allowed by its placement policy).
    Copy {
        /// Image id or name.
        image: String,
        #[arg(long)]
        pod_id: String,
    },
    /// Register mode: adopt an image that already exists in a pod, without copying it.
    Register {
        #[arg(long)]
        pod_id: String,
        /// The image's id inside the pod.
        #[arg(long)]
        bottom_id: String,
        /// Add the pod copy to this existing image (checksums must match), or create the image
        /// with this id (default: the pod's id when free).
        #[arg(long)]
        image_id: Option<String>,
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        visibility: Option<String>,
        /// Project owning the image (default: the caller's).
        #[arg(long)]
        owner: Option<String>,
    },
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    #[test]
    fn debug_of_the_command_line_hides_passwords() {
        let cli = super::Cli::try_parse_from([
            "cascade",
            "--os-password",
            "os-s3cret",
            "pod",
            "add",
            "--region-name",
            "R",
            "--az-name",
            "az",
            "--password",
            "pod-s3cret",
        ])
        .unwrap();
        let shown = format!("{cli:?}");
        assert!(!shown.contains("s3cret"), "{shown}");
        assert!(shown.contains("<redacted>"));
    }
}
