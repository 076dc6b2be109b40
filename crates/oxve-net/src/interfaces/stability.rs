//! Writing is stable: whatever text is read, writing it, reading that back and writing again
//! gives the same text. Checked on mutations of a realistic file (the fuzz target
//! `interfaces` checks the same on arbitrary input).

use super::{parse, render};

const BASE: &str = "\
auto lo
iface lo inet loopback
source /etc/network/interfaces.d/*
iface eno1 inet manual
auto vmbr0
iface vmbr0 inet static
\taddress 192.168.10.2/24
\tgateway 192.168.10.1
\tbridge-ports eno1
\tpost-up echo hi
#comment
iface vmbr0 inet6 static
\taddress fd00::2/64
auto bond0
iface bond0 inet manual
\tbond-slaves eno2 eno3
\tbond-mode 4
iface eno1.20 inet manual
\tvlan-raw-device eno1
auto vx1
iface vx1 inet manual
\tvxlan-id 7
\tvxlan-remoteip 10.0.0.2
\tvxlan-remoteip 10.0.0.3
mapping eth0
iface eno2 inet dhcp
allow-hotplug eno3
auto vmbr1
iface vmbr1 inet static
\taddress 10.10.0.1
\tnetmask 255.255.255.0
\tbridge_ports none
\tbridge-vlan-aware yes
\toxve-nat 1
";

/// A small deterministic generator, so the check needs no extra crate.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, n: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((self.0 >> 33) as usize) % n.max(1)
    }
}

pub(super) fn stable(text: &str) -> Result<(), String> {
    let once = render(&parse(text));
    let twice = render(&parse(&once));
    if once == twice {
        Ok(())
    } else {
        Err(format!(
            "input:\n{text}\n--- first:\n{once}\n--- second:\n{twice}"
        ))
    }
}

#[test]
fn writing_is_stable_under_mutation() {
    let lines: Vec<&str> = BASE.lines().collect();
    for seed in [42, 7, 1234, 99] {
        mutate_and_check(&lines, seed);
    }
}

fn mutate_and_check(lines: &[&str], seed: u64) {
    let mut rng = Lcg(seed);
    for _ in 0..2000 {
        let mut mutated: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
        for _ in 0..1 + rng.next(4) {
            let i = rng.next(mutated.len());
            match rng.next(5) {
                0 => {
                    mutated.remove(i);
                }
                1 => {
                    let j = rng.next(mutated.len());
                    mutated.swap(i, j);
                }
                2 => {
                    let dup = mutated[i].clone();
                    mutated.insert(i, dup);
                }
                3 => mutated[i] = mutated[i].trim().to_string(),
                _ => mutated[i].push_str(" extra"),
            }
            if mutated.is_empty() {
                break;
            }
        }
        let text = mutated.join("\n");
        if let Err(e) = stable(&text) {
            panic!("{e}");
        }
    }
}
