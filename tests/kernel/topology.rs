//! The lab topology as a guard: `Topology::up` runs `vagrant/topology up` (namespaces client,
//! dir1, dir2, rs1..rsN, bridges br-pub and br-rs, HTTP servers on the real servers) and drop
//! runs `vagrant/topology down`, also when the test fails. Addresses are the README's.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::process::{Command, Stdio};

/// The VIPs (moved by VRRP, or put on dir1 by [`Options::static_gateway`]).
pub const VIP4: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 10);
pub const VIP6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x10);
/// The inside gateway of the real servers.
pub const GW4: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 1);
pub const GW6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 1);
/// The client on the public net.
pub const CLIENT4: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 100);
pub const CLIENT6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x100);

/// Real server `i`'s IPv4 address (198.51.100.(10+i)).
pub fn rs4(i: u8) -> Ipv4Addr {
    Ipv4Addr::new(198, 51, 100, 10 + i)
}

/// Real server `i`'s IPv6 address (2001:db8:1::(10+i), hex).
pub fn rs6(i: u8) -> Ipv6Addr {
    Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 10 + u16::from(i))
}

/// Real server `i`'s address in `family` (4 or 6).
pub fn rs(i: u8, v6: bool) -> IpAddr {
    if v6 {
        IpAddr::V6(rs6(i))
    } else {
        IpAddr::V4(rs4(i))
    }
}

/// How to build the topology.
#[derive(Clone, Debug)]
pub struct Options {
    /// Number of real servers rs1..rsN.
    pub real_servers: u8,
    /// Put the VIPs and the inside gateway statically on dir1 (tests without VRRP).
    pub static_gateway: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            real_servers: 5,
            static_gateway: true,
        }
    }
}

/// The running topology; torn down on drop.
pub struct Topology {
    options: Options,
}

fn topology_script(args: &[String]) -> Result<(), String> {
    let script = super::lab::project_dir().join("vagrant/topology");
    let output = Command::new(&script)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run {}: {e}", script.display()))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "vagrant/topology {} failed ({}): {}{}",
            args.join(" "),
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ))
    }
}

impl Topology {
    /// Builds the topology (after removing any previous one).
    pub fn up(options: Options) -> Result<Self, String> {
        let mut args = vec!["up".to_owned(), options.real_servers.to_string()];
        if options.static_gateway {
            args.push("--static".to_owned());
        }
        // The guard exists before `up` so that a half-built topology is removed too.
        let topology = Topology { options };
        topology_script(&args)?;
        Ok(topology)
    }

    /// The options it was built with.
    pub fn options(&self) -> &Options {
        &self.options
    }
}

impl Drop for Topology {
    fn drop(&mut self) {
        if let Err(e) = topology_script(&["down".to_owned()]) {
            eprintln!("{e}");
        }
    }
}
