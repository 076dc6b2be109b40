//! Applying guest firewalls with as little work as possible. nft's cost grows with the rules
//! it is sent (it parses them, the kernel resolves every expression), and commands that name
//! rules by handle or position make nft read the whole table first; so a guest's rules live
//! in block chains of a few dozen rules, and a change rewrites only the blocks it touches
//! (flush and refill, which needs no such read); IP sets whose members changed are flushed
//! and refilled. When the guests, their NICs, MACs and IP filters and the sets declared stay
//! the same, that is all that is sent, in one transaction; anything else replaces the whole
//! table. Nothing changed, nothing is sent.
//! If the kernel's table is not what was last applied (somebody removed it), the incremental
//! transaction fails and the whole table is written instead.

use std::collections::HashMap;
use std::fmt::Write;
use std::sync::Mutex;

use super::matching::declared_sets;
use super::nft::{
    block_name, chain_name, chain_parts, main_lines, ruleset_with_sets, ChainParts, GuestFirewall,
    NftSet, BLOCK, TABLE,
};
use super::rule::RuleType;
use crate::error::Result;
use crate::nat::nft_apply;

#[derive(Debug, Clone, PartialEq, Eq)]
struct Applied {
    guests: Vec<GuestFirewall>,
    sets: Vec<NftSet>,
    stateful: bool,
}

/// A guest chain as the kernel has it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Layout {
    head: Vec<String>,
    /// Block chains in order: name and rules.
    blocks: Vec<(String, Vec<String>)>,
    policy: String,
    /// The number the next new block gets.
    next_block: usize,
}

impl Layout {
    /// Whether the chain already holds exactly `parts`.
    fn matches(&self, parts: &ChainParts) -> bool {
        self.head == parts.head
            && self.policy == parts.policy
            && self.blocks.iter().map(|(_, b)| b.len()).sum::<usize>() == parts.body.len()
            && self
                .blocks
                .iter()
                .flat_map(|(_, b)| b)
                .eq(parts.body.iter())
    }

    /// The layout a full write gives `parts` (see `nft::ruleset_with_sets`).
    fn written(name: &str, parts: ChainParts) -> Layout {
        let blocks: Vec<(String, Vec<String>)> = parts
            .body
            .chunks(BLOCK)
            .enumerate()
            .map(|(n, b)| (block_name(name, n), b.to_vec()))
            .collect();
        Layout {
            next_block: blocks.len(),
            head: parts.head,
            blocks,
            policy: parts.policy,
        }
    }
}

#[derive(Debug)]
struct Last {
    applied: Applied,
    chains: HashMap<String, Layout>,
}

/// What the last apply sent, to send only differences next time.
#[derive(Debug, Default)]
pub struct GuestFirewallApplier {
    last: Mutex<Option<Last>>,
}

/// How an apply went (for logs and tests).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApplyKind {
    Unchanged,
    /// Chains of this many guests were changed in place.
    Guests(usize),
    Full,
}

fn same_layout(a: &GuestFirewall, b: &GuestFirewall) -> bool {
    a.vmid == b.vmid
        && a.nics == b.nics
        && a.macs == b.macs
        && a.ipfilter == b.ipfilter
        && a.bridges == b.bridges
}

fn refill(s: &mut String, chain: &str, lines: &[String]) {
    for line in lines {
        let _ = writeln!(s, "add rule bridge {TABLE} {chain} {line}");
    }
}

/// The commands that turn chain `name` from `old` into `new`, and the resulting layout. The
/// body's unchanged head and tail stay; the blocks holding the changed middle are refilled
/// (split into blocks of [`BLOCK`] where they grew past twice that, removed where they
/// emptied).
fn chain_edit(name: &str, old: &Layout, new: ChainParts) -> (String, Layout) {
    let old_body: Vec<&String> = old.blocks.iter().flat_map(|(_, b)| b).collect();
    let head = old_body
        .iter()
        .zip(&new.body)
        .take_while(|(a, b)| **a == *b)
        .count();
    let max_tail = old_body.len().min(new.body.len()) - head;
    let tail = old_body
        .iter()
        .rev()
        .zip(new.body.iter().rev())
        .take(max_tail)
        .take_while(|(a, b)| **a == *b)
        .count();
    let mut s = String::new();
    let mut blocks = old.blocks.clone();
    let mut next_block = old.next_block;
    let mut removed = Vec::new();
    let body_changed = old_body.len() != new.body.len() || head + tail < new.body.len();
    if body_changed {
        // the blocks that hold old positions head .. old_len - tail (at least one)
        let starts: Vec<usize> = blocks
            .iter()
            .scan(0, |at, (_, b)| {
                let start = *at;
                *at += b.len();
                Some(start)
            })
            .collect();
        let end = old_body.len() - tail;
        let block_of = |pos: usize| starts.iter().rposition(|s| *s <= pos).unwrap_or(0);
        let (first, last) = if blocks.is_empty() {
            (0, None)
        } else {
            let first = block_of(head.min(old_body.len().saturating_sub(1)));
            let last = if end > head { block_of(end - 1) } else { first };
            (first, Some(last))
        };
        let mut merged: Vec<String> = Vec::new();
        if let Some(last) = last {
            merged.extend_from_slice(&blocks[first].1[..head - starts[first]]);
            merged.extend_from_slice(&new.body[head..new.body.len() - tail]);
            merged.extend_from_slice(&blocks[last].1[end - starts[last]..]);
        } else {
            merged = new.body.clone();
        }
        let reused: Vec<String> = match last {
            Some(last) => blocks[first..=last]
                .iter()
                .map(|(n, _)| n.clone())
                .collect(),
            None => Vec::new(),
        };
        // a block may grow to twice the size before it is split, so that adding a rule on top
        // (Proxmox's default place) refills one block
        let size = if merged.len() <= 2 * BLOCK {
            2 * BLOCK
        } else {
            BLOCK
        };
        let mut replacement = Vec::new();
        for (i, chunk) in merged.chunks(size).enumerate() {
            let block = match reused.get(i) {
                Some(n) => {
                    let _ = writeln!(s, "flush chain bridge {TABLE} {n}");
                    n.clone()
                }
                None => {
                    let n = block_name(name, next_block);
                    next_block += 1;
                    let _ = writeln!(s, "add chain bridge {TABLE} {n}");
                    n
                }
            };
            refill(&mut s, &block, chunk);
            replacement.push((block, chunk.to_vec()));
        }
        removed = reused.into_iter().skip(replacement.len()).collect();
        let end_block = last.map_or(first, |l| l + 1);
        blocks.splice(first..end_block, replacement);
    }
    let layout = Layout {
        head: new.head,
        blocks,
        policy: new.policy,
        next_block,
    };
    let names = |l: &Layout| l.blocks.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>();
    if layout.head != old.head || layout.policy != old.policy || names(&layout) != names(old) {
        let _ = writeln!(s, "flush chain bridge {TABLE} {name}");
        let parts = ChainParts {
            head: layout.head.clone(),
            body: Vec::new(),
            policy: layout.policy.clone(),
        };
        refill(&mut s, name, &main_lines(&parts, &names(&layout)));
    }
    // after the main chain no longer jumps to them
    for n in removed {
        let _ = writeln!(s, "delete chain bridge {TABLE} {n}");
    }
    (s, layout)
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
        if let Some(prev) = last.as_mut() {
            if prev.applied == next {
                return Ok(ApplyKind::Unchanged);
            }
            if let Some(count) = Self::in_place(prev, &next) {
                return Ok(ApplyKind::Guests(count));
            }
        }
        // forget what was applied until this succeeds
        *last = None;
        nft_apply(&ruleset_with_sets(guests, sets, stateful))?;
        let mut chains = HashMap::new();
        for g in &next.guests {
            for ty in [RuleType::In, RuleType::Out] {
                let name = chain_name(g.vmid, ty);
                let parts = chain_parts(g, ty, stateful, sets);
                chains.insert(name.clone(), Layout::written(&name, parts));
            }
        }
        *last = Some(Last {
            applied: next,
            chains,
        });
        Ok(ApplyKind::Full)
    }

    /// Change what changed in place, if the guests, their NICs and filters and the IP sets
    /// declared are the same (IP sets' members may differ). The number of guests changed,
    /// `None` to apply in full.
    fn in_place(prev: &mut Last, next: &Applied) -> Option<usize> {
        let (old_sets, new_sets) = (declared_sets(&prev.applied.sets), declared_sets(&next.sets));
        let layout_kept = prev.applied.stateful == next.stateful
            && prev.applied.guests.len() == next.guests.len()
            && !next.guests.is_empty()
            && old_sets.len() == new_sets.len()
            && old_sets
                .iter()
                .zip(&new_sets)
                .all(|(a, b)| a.name == b.name && a.family == b.family)
            && prev
                .applied
                .guests
                .iter()
                .zip(&next.guests)
                .all(|(a, b)| same_layout(a, b));
        if !layout_kept {
            return None;
        }
        let mut script = String::new();
        for (old, new) in old_sets.iter().zip(&new_sets) {
            if old.elements != new.elements {
                let _ = writeln!(script, "flush set bridge {TABLE} {}", new.name);
                if !new.elements.is_empty() {
                    let _ = writeln!(
                        script,
                        "add element bridge {TABLE} {} {{ {} }}",
                        new.name,
                        new.elements.join(", ")
                    );
                }
            }
        }
        // a chain changes with its guest's rules, and with the families of the sets they name
        let mut edited = Vec::new();
        let mut guests = 0;
        for g in &next.guests {
            let mut changed = false;
            for ty in [RuleType::In, RuleType::Out] {
                let name = chain_name(g.vmid, ty);
                let old = prev.chains.get(&name)?;
                let parts = chain_parts(g, ty, next.stateful, &next.sets);
                if old.matches(&parts) {
                    continue;
                }
                let (s, layout) = chain_edit(&name, old, parts);
                script.push_str(&s);
                edited.push((name, layout));
                changed = true;
            }
            guests += usize::from(changed);
        }
        if !script.is_empty() {
            nft_apply(&script).ok()?;
        }
        prev.chains.extend(edited);
        prev.applied = next.clone();
        Some(guests)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(body: &[String]) -> ChainParts {
        ChainParts {
            head: vec!["ether type arp accept".into()],
            body: body.to_vec(),
            policy: "drop".into(),
        }
    }

    fn rules(range: std::ops::Range<usize>) -> Vec<String> {
        range.map(|i| format!("tcp dport {i} accept")).collect()
    }

    fn body(l: &Layout) -> Vec<String> {
        l.blocks.iter().flat_map(|(_, b)| b.clone()).collect()
    }

    #[test]
    fn a_change_rewrites_only_its_block() {
        let old = Layout::written("g-in", parts(&rules(0..100)));
        assert_eq!(old.blocks.len(), 4);
        // one rule changed in the second block
        let mut new = rules(0..100);
        new[40] = "udp dport 40 drop".into();
        let (s, l) = chain_edit("g-in", &old, parts(&new));
        assert_eq!(s.lines().count(), 1 + BLOCK, "{s}");
        assert!(s.starts_with("flush chain bridge oxve-fw g-in-1\n"), "{s}");
        assert_eq!(body(&l), new);
        // a rule on top (Proxmox's default place): only the first block grows
        let mut top = vec!["tcp dport 9 drop".to_string()];
        top.extend(new.clone());
        let (s, l2) = chain_edit("g-in", &l, parts(&top));
        assert_eq!(s.lines().count(), 1 + BLOCK + 1, "{s}");
        assert_eq!(body(&l2), top);
        // a block that grows past twice the size is split; the main chain gets the new jump
        let mut many = rules(1000..1040);
        many.extend(top.clone());
        let (s, l3) = chain_edit("g-in", &l2, parts(&many));
        assert!(s.contains("add chain bridge oxve-fw g-in-4\n"), "{s}");
        assert!(
            s.contains("add rule bridge oxve-fw g-in jump g-in-4\n"),
            "{s}"
        );
        assert_eq!(body(&l3), many);
        // everything gone: blocks deleted after the main chain stops jumping to them
        let (s, l4) = chain_edit("g-in", &l3, parts(&[]));
        assert!(l4.blocks.is_empty());
        let flush_main = s.find("flush chain bridge oxve-fw g-in\n").unwrap();
        assert!(s.find("delete chain").unwrap() > flush_main, "{s}");
        // and back from nothing
        let (_, l5) = chain_edit("g-in", &l4, parts(&rules(0..3)));
        assert_eq!(body(&l5), rules(0..3));
        // a policy change alone rewrites the main chain only
        let mut p = parts(&rules(0..3));
        p.policy = "accept".into();
        let (s, _) = chain_edit("g-in", &l5, p);
        assert!(s.starts_with("flush chain bridge oxve-fw g-in\n"), "{s}");
        assert_eq!(s.lines().count(), 4, "{s}");
    }
}
