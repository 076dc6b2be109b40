//! Rule macros: named services that expand to protocol/port matches (a subset of Proxmox's
//! list, same names and meanings).

/// One match of a macro: protocol, destination ports, source ports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MacroPart {
    pub proto: &'static str,
    pub dport: Option<&'static str>,
    pub sport: Option<&'static str>,
    /// For ICMP parts: the message type.
    pub icmp_type: Option<&'static str>,
}

const fn tcp(d: &'static str) -> MacroPart {
    MacroPart {
        proto: "tcp",
        dport: Some(d),
        sport: None,
        icmp_type: None,
    }
}

const fn udp(d: &'static str) -> MacroPart {
    MacroPart {
        proto: "udp",
        dport: Some(d),
        sport: None,
        icmp_type: None,
    }
}

const PING: MacroPart = MacroPart {
    proto: "icmp",
    dport: None,
    sport: None,
    icmp_type: Some("echo-request"),
};
const PING6: MacroPart = MacroPart {
    proto: "ipv6-icmp",
    dport: None,
    sport: None,
    icmp_type: Some("echo-request"),
};

const MACROS: &[(&str, &[MacroPart])] = &[
    ("BitTorrent", &[tcp("6881:6889"), udp("6881")]),
    ("DHCPfwd", &[udp("67:68")]),
    ("DNS", &[udp("53"), tcp("53")]),
    ("FTP", &[tcp("21")]),
    ("Git", &[tcp("9418")]),
    ("HTTP", &[tcp("80")]),
    ("HTTPS", &[tcp("443")]),
    ("IMAP", &[tcp("143")]),
    ("IMAPS", &[tcp("993")]),
    ("LDAP", &[tcp("389")]),
    ("LDAPS", &[tcp("636")]),
    ("MySQL", &[tcp("3306")]),
    ("NTP", &[udp("123")]),
    ("Ping", &[PING, PING6]),
    ("POP3", &[tcp("110")]),
    ("POP3S", &[tcp("995")]),
    ("PostgreSQL", &[tcp("5432")]),
    ("RDP", &[tcp("3389")]),
    ("Rsync", &[tcp("873")]),
    ("SMB", &[udp("135,445"), udp("137:139"), tcp("135,139,445")]),
    ("SMTP", &[tcp("25")]),
    ("SMTPS", &[tcp("465")]),
    ("SNMP", &[udp("161:162"), tcp("161")]),
    ("SSH", &[tcp("22")]),
    ("Submission", &[tcp("587")]),
    ("Telnet", &[tcp("23")]),
    ("VNC", &[tcp("5900:5999")]),
    ("Web", &[tcp("80"), tcp("443")]),
];

/// The parts of macro `name` (case-insensitive, as Proxmox accepts it).
pub fn lookup(name: &str) -> Option<&'static [MacroPart]> {
    MACROS
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, parts)| *parts)
}

/// Every macro name.
pub fn names() -> impl Iterator<Item = &'static str> {
    MACROS.iter().map(|(n, _)| *n)
}
