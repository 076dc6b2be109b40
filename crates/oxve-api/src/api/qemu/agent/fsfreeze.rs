//! Guest file system freeze/thaw around backups and snapshots, as Proxmox does it: only with
//! `agent: 1` and `freeze-fs` not off, skipped when the agent does not answer, and once a
//! freeze was issued the thaw is always owed (even when the freeze reported an error).

use oxve_types::qemu::VmSettings;

use crate::env::RpcEnv;

/// The messages of one caller (vzdump and snapshots word them differently, as Proxmox).
pub(crate) struct FreezeWords {
    pub freezing: &'static str,
    pub thawing: &'static str,
    pub disabled: &'static str,
}

pub(crate) const VZDUMP: FreezeWords = FreezeWords {
    freezing: "issuing guest-agent 'fs-freeze' command",
    thawing: "issuing guest-agent 'fs-thaw' command",
    disabled: "skipping guest-agent 'fs-freeze', disabled in VM options",
};

pub(crate) const SNAPSHOT: FreezeWords = FreezeWords {
    freezing: "freeze guest filesystem",
    thawing: "thaw guest filesystem",
    disabled: "skipping guest filesystem freeze - disabled in VM options",
};

/// Freezes the running VM's file systems through its agent; returns whether to thaw after.
/// Failures are logged (`error`), never fatal.
pub(crate) async fn fs_freeze(
    env: &RpcEnv,
    vmid: u32,
    settings: &VmSettings,
    words: &FreezeWords,
    info: impl Fn(String),
    error: impl Fn(String),
) -> bool {
    if !settings.agent_enabled() {
        return false;
    }
    if !settings.agent_freeze_fs() {
        info(words.disabled.to_string());
        return false;
    }
    let mut session = match env.state.qemu.agent(vmid).await {
        Ok(s) => s,
        Err(e) => {
            info(format!(
                "skipping guest-agent 'fs-freeze', agent configured but not running? ({e})"
            ));
            return false;
        }
    };
    info(words.freezing.to_string());
    match session.execute("guest-fsfreeze-freeze", None).await {
        Ok(n) => tracing::debug!(vmid, frozen = %n, "guest file systems frozen"),
        Err(e) => error(format!("guest-fsfreeze-freeze failed - {e}")),
    }
    true
}

/// Thaws what [`fs_freeze`] froze; failures are logged (`error`).
pub(crate) async fn fs_thaw(
    env: &RpcEnv,
    vmid: u32,
    words: &FreezeWords,
    info: impl Fn(String),
    error: impl Fn(String),
) {
    info(words.thawing.to_string());
    if let Err(e) = env
        .state
        .qemu
        .agent_command(vmid, "guest-fsfreeze-thaw", None)
        .await
    {
        error(format!("guest-fsfreeze-thaw failed - {e}"));
    }
}
