//! A short account of a valid configuration: what `lbctl check` prints.

use super::Config;
use serde::Serialize;

/// Counts and load of a configuration.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct Summary {
    pub director: String,
    pub vrrp_instances: usize,
    pub vips: usize,
    pub services: usize,
    pub hostgroups: usize,
    pub nodes: usize,
    /// Σ over services of the nodes of their hostgroup: the IPVS destinations when all are up.
    pub real_servers: usize,
    /// Σ over services of nodes / interval: service checks started per second when all pass.
    pub checks_per_second: f64,
    /// Σ over pinged nodes of 1 / their group's ping interval: each node is pinged once.
    pub pings_per_second: f64,
}

impl Config {
    /// Counts the configuration's parts.
    pub fn summary(&self) -> Summary {
        let group_size = |name: &str| self.hostgroups.get(name).map_or(0, |g| g.nodes.len());
        let real_servers = self.services.iter().map(|s| group_size(&s.hostgroup)).sum();
        let checks_per_second = self
            .services
            .iter()
            .map(|s| group_size(&s.hostgroup) as f64 / s.watch.interval.as_secs_f64())
            // Not `sum()`: an empty f64 sum is -0.0, which prints as "-0.0 checks/s".
            .fold(0.0, |a, b| a + b);
        let pings_per_second = self
            .pinged_nodes()
            .values()
            .map(|(_, ping, _)| 1.0 / ping.interval.as_secs_f64())
            .fold(0.0, |a, b| a + b);
        Summary {
            director: self.director.name.clone(),
            vrrp_instances: self.director.vrrp.len(),
            vips: self.director.vrrp.iter().map(|i| i.vips.len()).sum(),
            services: self.services.len(),
            hostgroups: self.hostgroups.len(),
            nodes: self.hostgroups.values().map(|g| g.nodes.len()).sum(),
            real_servers,
            checks_per_second,
            pings_per_second,
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_director_with_nothing_to_check_has_zero_rates_not_minus_zero() {
        let dir = std::path::Path::new("/etc/lbd");
        let loaded = super::super::load_files(dir, [("director.yaml", "name: d\n")]).unwrap();
        let s = loaded.config.summary();
        assert_eq!(
            format!("{:.1} {:.1}", s.checks_per_second, s.pings_per_second),
            "0.0 0.0"
        );
    }
}
