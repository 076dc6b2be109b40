use super::*;

const SAMPLE: &str = "\
# a hand-written header comment
auto lo
iface lo inet loopback

source /etc/network/interfaces.d/*

iface eno1 inet manual

auto vmbr0
iface vmbr0 inet static
\taddress 192.168.10.2/24
\tgateway 192.168.10.1
\tbridge-ports eno1
\tbridge-stp off
\tbridge-fd 0
\tpost-up echo hello
#Uplink bridge

iface vmbr0 inet6 static
\taddress fd00::2/64

auto vmbr1
iface vmbr1 inet static
\taddress 10.10.0.1
\tnetmask 255.255.255.0
\tbridge_ports none
\tbridge_vlan_aware yes
\toxve-nat 1

auto bond0
iface bond0 inet manual
\tbond-slaves eno2 eno3
\tbond-mode 4
\tbond-miimon 100

iface eno2 inet manual
iface eno3 inet manual
";

#[test]
fn parses_a_proxmox_style_file() {
    let f = parse(SAMPLE);
    let br = &f.ifaces["vmbr0"];
    assert!(br.autostart);
    assert_eq!(br.iface_type("vmbr0"), IfaceType::Bridge);
    let inet = br.inet.as_ref().unwrap();
    assert_eq!(inet.method, "static");
    assert_eq!(inet.address.as_deref(), Some("192.168.10.2/24"));
    assert_eq!(inet.gateway.as_deref(), Some("192.168.10.1"));
    assert_eq!(inet.options, vec!["post-up echo hello"]);
    assert_eq!(inet.comments.as_deref(), Some("Uplink bridge\n"));
    assert_eq!(br.setting("bridge_ports"), Some("eno1"));
    assert_eq!(br.setting("bridge_stp"), Some("off"));
    assert_eq!(
        br.inet6.as_ref().unwrap().address.as_deref(),
        Some("fd00::2/64")
    );
    assert_eq!(br.cidr().unwrap().to_string(), "192.168.10.2/24");

    let nat = &f.ifaces["vmbr1"];
    assert_eq!(nat.bridge_ports(), Vec::<String>::new());
    assert!(nat.flag("bridge_vlan_aware"));
    assert!(nat.is_nat());
    assert_eq!(nat.cidr().unwrap().to_string(), "10.10.0.1/24");

    let bond = &f.ifaces["bond0"];
    assert_eq!(bond.iface_type("bond0"), IfaceType::Bond);
    assert_eq!(bond.setting("bond_mode"), Some("802.3ad"));
    assert_eq!(bond.slaves(), vec!["eno2", "eno3"]);
    assert_eq!(f.ifaces["eno1"].iface_type("eno1"), IfaceType::Eth);
    assert_eq!(f.ifaces["lo"].priority, 1);
    assert_eq!(f.other_lines.len(), 1);
    assert!(f.other_lines[0].1.starts_with("source "));
    check(&f).unwrap();
}

#[test]
fn writes_and_reads_back_the_same_model() {
    let f = parse(SAMPLE);
    let text = render(&f);
    assert!(text.contains("auto vmbr0\niface vmbr0 inet static\n\taddress 192.168.10.2/24\n\tgateway 192.168.10.1\n\tbridge-ports eno1\n\tbridge-stp off\n\tbridge-fd 0\n"), "{text}");
    assert!(
        text.contains("\tbridge-vlan-aware yes\n\tbridge-vids 2-4094\n"),
        "{text}"
    );
    assert!(text.contains("\taddress 10.10.0.1/24\n"), "{text}");
    assert!(text.contains("\toxve-nat 1\n"), "{text}");
    assert!(
        text.contains("\tpost-up echo hello\n#Uplink bridge\n"),
        "{text}"
    );
    assert!(
        text.contains("source /etc/network/interfaces.d/*\n"),
        "{text}"
    );
    // physical NICs before bonds before bridges
    let pos = |s: &str| text.find(s).unwrap();
    assert!(pos("iface lo") < pos("iface eno1"));
    assert!(pos("iface eno3") < pos("iface bond0"));
    assert!(pos("iface bond0") < pos("iface vmbr0"));
    let again = parse(&text);
    let mut a = f.clone();
    let mut b = again.clone();
    // positions shift with the header; everything else stays
    for x in [&mut a, &mut b] {
        for i in x.ifaces.values_mut() {
            i.priority = 0;
        }
        x.other_lines.iter_mut().for_each(|l| l.0 = 0);
    }
    // the netmask is folded into the address when written
    a.ifaces
        .get_mut("vmbr1")
        .unwrap()
        .inet
        .as_mut()
        .unwrap()
        .address = Some("10.10.0.1/24".into());
    a.ifaces
        .get_mut("vmbr1")
        .unwrap()
        .inet
        .as_mut()
        .unwrap()
        .netmask = None;
    // a VLAN-aware bridge gets Proxmox's default VLAN range
    a.ifaces
        .get_mut("vmbr1")
        .unwrap()
        .settings
        .insert("bridge_vids".into(), "2-4094".into());
    assert_eq!(a, b);
    assert_eq!(render(&again), text, "writing is stable");
}

#[test]
fn consistency_checks() {
    let mut f = parse(SAMPLE);
    f.ifaces
        .get_mut("vmbr1")
        .unwrap()
        .settings
        .insert("bridge_ports".into(), "eno1".into());
    let e = check(&f).unwrap_err();
    assert_eq!(e.param, "bridge_ports");
    assert!(e.message.contains("already used"), "{e}");

    let mut f = parse(SAMPLE);
    f.ifaces
        .get_mut("vmbr1")
        .unwrap()
        .settings
        .insert("bridge_ports".into(), "eno9".into());
    assert!(check(&f)
        .unwrap_err()
        .message
        .contains("unable to find port 'eno9'"));

    let mut f = parse(SAMPLE);
    let v = f.ifaces.get_mut("vmbr0").unwrap().inet.as_mut().unwrap();
    v.address = Some("10.10.0.7/16".into());
    let e = check(&f).unwrap_err();
    assert_eq!((e.iface.as_str(), e.param.as_str()), ("vmbr1", "cidr"));
    assert!(e.message.contains("overlaps"), "{e}");

    let mut f = parse(SAMPLE);
    f.ifaces
        .get_mut("vmbr1")
        .unwrap()
        .inet
        .as_mut()
        .unwrap()
        .address = None;
    assert!(check(&f)
        .unwrap_err()
        .message
        .contains("needs an IPv4 address"));

    let mut f = parse(SAMPLE);
    f.ifaces.get_mut("eno1").unwrap().inet = Some(FamilyConfig {
        method: "static".into(),
        address: Some("1.2.3.4/24".into()),
        ..Default::default()
    });
    assert!(check(&f).unwrap_err().message.contains("can't be set"));

    let mut f = parse(SAMPLE);
    f.ifaces.insert(
        "eno7.10".into(),
        Iface {
            inet: Some(FamilyConfig {
                method: "manual".into(),
                ..Default::default()
            }),
            ..Default::default()
        },
    );
    assert!(check(&f)
        .unwrap_err()
        .message
        .contains("unable to find parent 'eno7'"));
}

#[test]
fn types_from_names() {
    let i = Iface::default();
    assert_eq!(i.iface_type("eth0"), IfaceType::Eth);
    assert_eq!(i.iface_type("enp3s0f1"), IfaceType::Eth);
    assert_eq!(i.iface_type("vmbr12"), IfaceType::Bridge);
    assert_eq!(i.iface_type("eno1.20"), IfaceType::Vlan);
    assert_eq!(i.iface_type("eno1:1"), IfaceType::Alias);
    assert_eq!(i.iface_type("tap100i0"), IfaceType::Unknown);
    assert!(!is_physical_name("eth0.5"));
}

#[test]
fn discovered_nics_are_added() {
    let mut f = parse(SAMPLE);
    f.merge_discovered(&["eno1".into(), "enp9s0".into()]);
    assert_eq!(f.ifaces["enp9s0"].exists, Some(true));
    assert_eq!(f.ifaces["eno1"].exists, Some(true));
    assert_eq!(f.ifaces["eno2"].exists, Some(false));
    assert!(render(&f).contains("iface enp9s0 inet manual\n"));
}
