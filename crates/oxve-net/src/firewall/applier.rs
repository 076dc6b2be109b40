//! Applying guest firewalls with as little work as possible: when only some guests' rules
//! or policies changed (same guests, NICs, MACs and IP sets), just their chains are flushed
//! and refilled, in one transaction; anything else replaces the whole table. Nothing changed,
//! nothing is sent. If the kernel's table is not what was last applied (somebody removed it),
//! the incremental transaction fails and the whole table is written instead.

use std::sync::Mutex;

use super::nft::{chain_update, ruleset_with_sets, GuestFirewall, NftSet};
use crate::error::Result;
use crate::nat::nft_apply;

#[derive(Debug, Clone, PartialEq, Eq)]
struct Applied {
    guests: Vec<GuestFirewall>,
    sets: Vec<NftSet>,
    stateful: bool,
}

/// What the last apply sent, to send only differences next time.
#[derive(Debug, Default)]
pub struct GuestFirewallApplier {
    last: Mutex<Option<Applied>>,
}

/// How an apply went (for logs and tests).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApplyKind {
    Unchanged,
    /// Chains of this many guests were replaced.
    Guests(usize),
    Full,
}

fn same_layout(a: &GuestFirewall, b: &GuestFirewall) -> bool {
    a.vmid == b.vmid && a.nics == b.nics && a.macs == b.macs
}

impl GuestFirewallApplier {
    pub fn apply(
        &self,
        guests: &[GuestFirewall],
        sets: &[NftSet],
        stateful: bool,
    ) -> Result<ApplyKind> {
        let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
        let next = Applied {
            guests: guests
                .iter()
                .filter(|g| !g.nics.is_empty())
                .cloned()
                .collect(),
            sets: sets.to_vec(),
            stateful,
        };
        if let Some(prev) = last.as_ref() {
            if *prev == next {
                return Ok(ApplyKind::Unchanged);
            }
            let layout_kept = prev.sets == next.sets
                && prev.stateful == next.stateful
                && prev.guests.len() == next.guests.len()
                && prev
                    .guests
                    .iter()
                    .zip(&next.guests)
                    .all(|(a, b)| same_layout(a, b));
            if layout_kept && !next.guests.is_empty() {
                let changed: Vec<&GuestFirewall> = next
                    .guests
                    .iter()
                    .zip(&prev.guests)
                    .filter(|(n, p)| n != p)
                    .map(|(n, _)| n)
                    .collect();
                let script: String = changed
                    .iter()
                    .map(|g| chain_update(g, stateful, sets))
                    .collect();
                if nft_apply(&script).is_ok() {
                    let count = changed.len();
                    *last = Some(next);
                    return Ok(ApplyKind::Guests(count));
                }
            }
        }
        // forget what was applied until this succeeds
        *last = None;
        nft_apply(&ruleset_with_sets(guests, sets, stateful))?;
        *last = Some(next);
        Ok(ApplyKind::Full)
    }
}
