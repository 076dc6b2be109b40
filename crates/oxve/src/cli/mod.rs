//! The command-line client. It is a client of the API like any other: as root on the node it
//! talks to the daemon over the root-only unix socket; remotely it logs in over HTTPS and
//! caches the ticket.

pub mod aliases;
pub mod api_cmd;
mod backup;
mod client;
pub mod ct;
mod output;
pub mod terminal;

pub use client::{Client, ConnectArgs};

/// `oxve login`: log in to a remote node and cache the ticket for later commands.
#[derive(clap::Args)]
pub struct LoginArgs {
    #[command(flatten)]
    pub connect: ConnectArgs,
}

pub async fn login(args: LoginArgs) -> anyhow::Result<()> {
    if args.connect.host.is_none() {
        anyhow::bail!("--host (or OXVE_HOST) is needed to log in to a remote node");
    }
    let client = Client::connect(&args.connect).await?;
    println!("logged in as {}", client.user().unwrap_or("?"));
    Ok(())
}
