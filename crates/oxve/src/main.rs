//! `oxve`: the node daemon (`oxve serve`) and the command-line client, one binary.

mod cli;
mod net_wiring;
mod serve;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "oxve",
    version,
    about = "oxve virtualization platform: node daemon and CLI"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the node daemon in the foreground.
    Serve(serve::ServeArgs),
    /// Call any API method, like Proxmox's pvesh.
    Api(cli::api_cmd::ApiArgs),
    /// Log in to a remote node and cache the ticket.
    Login(cli::LoginArgs),
    /// Short forms of common API calls: `oxve user list`, `oxve task log UPID`, ...
    /// (`oxve help-commands` lists them).
    #[command(external_subcommand)]
    Alias(Vec<String>),
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    if matches!(cli.command, Command::Serve(_)) {
        serve::tune_allocator();
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    match cli.command {
        Command::Serve(args) => runtime.block_on(serve::run(args)),
        Command::Api(args) => runtime.block_on(cli::api_cmd::run(args)),
        Command::Login(args) => runtime.block_on(cli::login(args)),
        Command::Alias(words) => runtime.block_on(cli::aliases::run(words)),
    }
}
