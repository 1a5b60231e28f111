//! Layout tests of `lbctl table` against ipvsadm 1.31's printf formats (the kernel tests
//! compare with the real `ipvsadm -Ln` output as well).

use super::table::*;
use crate::ipvs::*;

fn entry(service: Service, dests: Vec<(Dest, u32, u32, Stats)>, stats: Stats) -> ServiceEntry {
    ServiceEntry {
        service,
        stats,
        dests: dests
            .into_iter()
            .map(|(dest, a, i, stats)| DestEntry {
                dest,
                active_conns: a,
                inactive_conns: i,
                persistent_conns: 0,
                stats,
            })
            .collect(),
    }
}

fn sample() -> Vec<ServiceEntry> {
    let mut p = Service::new(ServiceKey::udp("2001:db8::10".parse().unwrap(), 53), "sh");
    p.flags = SvcFlags(SvcFlags::PERSISTENT | SvcFlags::SH_FALLBACK | SvcFlags::SH_PORT);
    p.timeout = 300;
    p.netmask = 64;
    let fw = Service::new(
        ServiceKey::Fwmark {
            family: Family::Ipv4,
            mark: 3,
        },
        "rr",
    );
    let mut web = Service::new(ServiceKey::tcp("192.0.2.10".parse().unwrap(), 80), "wlc");
    web.flags = SvcFlags(SvcFlags::ONEPACKET);
    let st = Stats {
        conns: 12,
        inpkts: 123_456_789,
        outpkts: 7,
        inbytes: 1_500_000_000,
        outbytes: 0,
        cps: 1,
        inpps: 2,
        outpps: 3,
        inbps: 4,
        outbps: 250_000_000,
    };
    let mut d2 = Dest::new("198.51.100.12".parse().unwrap(), 80, ForwardMethod::Route);
    d2.weight = 0;
    let mut entries = vec![
        entry(
            fw,
            vec![(
                Dest::new(
                    "198.51.100.11".parse().unwrap(),
                    0,
                    ForwardMethod::Tunnel(Tunnel::default()),
                ),
                0,
                0,
                Stats::default(),
            )],
            Stats::default(),
        ),
        entry(
            p,
            vec![(
                Dest::new("2001:db8:1::11".parse().unwrap(), 53, ForwardMethod::Masq),
                1,
                2,
                Stats::default(),
            )],
            Stats::default(),
        ),
        entry(
            web,
            vec![
                (d2, 3, 40, st),
                (
                    Dest::new("198.51.100.11".parse().unwrap(), 80, ForwardMethod::Masq),
                    5,
                    6,
                    Stats::default(),
                ),
            ],
            st,
        ),
    ];
    sort_entries(&mut entries);
    entries
}

const INFO: Info = Info {
    version: 0x010201,
    conn_tab_size: 4096,
};

#[test]
fn plain_layout() {
    let expected = "\
IP Virtual Server version 1.2.1 (size=4096)
Prot LocalAddress:Port Scheduler Flags
  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn
TCP  192.0.2.10:80 wlc ops
  -> 198.51.100.11:80             Masq    1      5          6         
  -> 198.51.100.12:80             Route   0      3          40        
UDP  [2001:db8::10]:53 sh (sh-fallback,sh-port) persistent 300 mask 64
  -> [2001:db8:1::11]:53          Masq    1      1          2         
FWM  3 rr
  -> 198.51.100.11:0              Tunnel  1      0          0         
";
    assert_eq!(render(&INFO, &sample(), Layout::Plain, false), expected);
}

#[test]
fn stats_layout() {
    let out = render(&INFO, &sample(), Layout::Stats, false);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[1],
        "Prot LocalAddress:Port               Conns   InPkts  OutPkts  InBytes OutBytes"
    );
    assert_eq!(lines[2], "  -> RemoteAddress:Port");
    assert_eq!(
        lines[3],
        "TCP  192.0.2.10:80                      12  123456K        7    1500M        0"
    );
    assert_eq!(
        lines[5],
        "  -> 198.51.100.12:80                   12  123456K        7    1500M        0"
    );
    let exact = render(&INFO, &sample(), Layout::Stats, true);
    assert_eq!(
        exact.lines().nth(3).unwrap(),
        "TCP  192.0.2.10:80                      12 123456789        7 1500000000        0"
    );
}

#[test]
fn rate_layout() {
    let out = render(&INFO, &sample(), Layout::Rate, false);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[1],
        "Prot LocalAddress:Port                 CPS    InPPS   OutPPS    InBPS   OutBPS"
    );
    assert_eq!(
        lines[3],
        "TCP  192.0.2.10:80                       1        2        3        4  250000K"
    );
    assert_eq!(
        lines[5],
        "  -> 198.51.100.12:80                    1        2        3        4  250000K"
    );
}

#[test]
fn largenum_units() {
    assert_eq!(largenum(99_999_999, false), " 99999999");
    assert_eq!(largenum(100_000_000, false), "  100000K");
    assert_eq!(largenum(99_999_999_999, false), "   99999M");
    assert_eq!(largenum(100_000_000_000, false), "     100G");
    assert_eq!(largenum(100_000_000_000_000, false), "     100T");
    assert_eq!(largenum(5, true), "        5");
    assert_eq!(largenum(1_234_567_890, true), " 1234567890");
}
