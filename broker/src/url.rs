//! The Redis URL forms weir accepts, parsed once into a [`Topology`]:
//!
//! - `redis://[user[:pass]@]host:port[/db]` (and `rediss://`, TLS): one server;
//! - `redis-cluster://[user[:pass]@]host:port[?node=host:port&...]`: Redis
//!   Cluster, any live nodes as seeds (and `rediss-cluster://`);
//! - `redis-sentinel://[user[:pass]@]host:port?sentinelServiceName=NAME[&node=host:port...]`:
//!   the master that the sentinels at these addresses name (and
//!   `rediss-sentinel://`). The user and password are the master's;
//!   `sentinelUsername`/`sentinelPassword` authenticate to the sentinels.
//!
//! docs/CLI.md documents the same list; a test keeps both in step.
use crate::error::{Error, Result};

/// Where weir's Redis is and how it is deployed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Topology {
    /// One server (`redis://`).
    Node {
        /// The URL as given (`redis://` or `rediss://`).
        url: String,
    },
    /// Redis Cluster: seed node URLs (`redis[s]://user:pass@host:port` each,
    /// carrying the TLS choice and the credentials).
    Cluster {
        /// Any live nodes; the rest are found from them.
        nodes: Vec<String>,
    },
    /// A master found through Sentinel.
    Sentinel {
        /// Sentinel URLs (`redis://[sentinel user:pass@]host:port`).
        sentinels: Vec<String>,
        /// The master's name in Sentinel (`sentinelServiceName`).
        service: String,
        /// The master is reached over TLS (`rediss-sentinel://`).
        tls: bool,
        /// The database number on the master (`/N`).
        db: i64,
        /// The master's ACL user, if any.
        username: Option<String>,
        /// The master's password, if any.
        password: Option<String>,
    },
}

/// The schemes [`Topology::parse`] accepts, for messages and `--help`.
pub const SCHEMES: [&str; 6] =
    ["redis", "rediss", "redis-cluster", "rediss-cluster", "redis-sentinel", "rediss-sentinel"];

/// The URL with any password replaced by `***`, for messages and logs: the
/// one redaction for Redis and database URLs alike (a user without a
/// password is shown as is).
pub fn redact_url(url: &str) -> String {
    let Some(scheme_end) = url.find("://") else { return url.to_string() };
    let rest = &url[scheme_end + 3..];
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let mut out = String::with_capacity(url.len());
    out.push_str(&url[..scheme_end + 3]);
    match rest[..authority_end].rfind('@') {
        Some(at) => {
            let userinfo = &rest[..at];
            match userinfo.split_once(':') {
                Some((user, _)) => out.push_str(&format!("{user}:***")),
                None => out.push_str(userinfo),
            }
            out.push_str(&rest[at..authority_end]);
        }
        None => out.push_str(&rest[..authority_end]),
    }
    // Query parameters may carry the sentinels' password.
    let tail = &rest[authority_end..];
    match tail.split_once('?') {
        Some((path, query)) => {
            out.push_str(path);
            out.push('?');
            let pairs: Vec<String> = query
                .split('&')
                .map(|pair| match pair.split_once('=') {
                    Some((k, _)) if k.eq_ignore_ascii_case("sentinelPassword") => format!("{k}=***"),
                    _ => pair.to_string(),
                })
                .collect();
            out.push_str(&pairs.join("&"));
        }
        None => out.push_str(tail),
    }
    out
}

impl Topology {
    /// Reads a `--redis` URL (the schemes in [`SCHEMES`]); a bad one is
    /// [`Error::InvalidUrl`] with the password redacted.
    pub fn parse(url: &str) -> Result<Topology> {
        let shown = redact_url(url);
        let bad = |reason: String| Error::InvalidUrl { url: shown.clone(), reason };
        let (scheme, rest) =
            url.split_once("://").ok_or_else(|| bad(format!("the scheme must be one of {}", SCHEMES.join(", "))))?;
        if !SCHEMES.contains(&scheme) {
            return Err(bad(format!("the scheme must be one of {}", SCHEMES.join(", "))));
        }
        let tls = scheme.starts_with("rediss");
        if tls && !cfg!(feature = "tls") {
            return Err(bad(format!("TLS ({scheme}://) needs weir built with the `tls` feature")));
        }
        if scheme == "redis" || scheme == "rediss" {
            return Ok(Topology::Node { url: url.to_string() });
        }
        let (authority, query) = rest.split_once('?').unwrap_or((rest, ""));
        let (authority, path) = authority.split_once('/').unwrap_or((authority, ""));
        let (userinfo, host) = match authority.rsplit_once('@') {
            Some((u, h)) => (Some(u), h),
            None => (None, authority),
        };
        let (username, password) = match userinfo {
            Some(u) => match u.split_once(':') {
                Some((user, pass)) => ((!user.is_empty()).then(|| user.to_string()), Some(pass.to_string())),
                None => (None, Some(u.to_string())),
            },
            None => (None, None),
        };
        if host.is_empty() {
            return Err(bad("no host:port".into()));
        }
        let mut hosts = vec![host.to_string()];
        let mut service = None;
        let (mut sentinel_user, mut sentinel_pass) = (None, None);
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            match k {
                "node" => hosts.push(v.to_string()),
                "sentinelServiceName" => service = Some(v.to_string()),
                "sentinelUsername" => sentinel_user = Some(v.to_string()),
                "sentinelPassword" => sentinel_pass = Some(v.to_string()),
                other => return Err(bad(format!("unknown parameter {other:?}"))),
            }
        }
        for h in &hosts {
            let port_ok =
                h.rsplit_once(':').is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok());
            if !port_ok {
                return Err(bad(format!("{h:?} is not host:port")));
            }
        }
        let node_scheme = if tls { "rediss" } else { "redis" };
        if scheme.ends_with("-cluster") {
            if !path.is_empty() && path != "0" {
                return Err(bad("Redis Cluster has only database 0".into()));
            }
            let auth = match (&username, &password) {
                (Some(u), Some(p)) => format!("{u}:{p}@"),
                (None, Some(p)) => format!(":{p}@"),
                _ => String::new(),
            };
            let nodes = hosts.iter().map(|h| format!("{node_scheme}://{auth}{h}")).collect();
            return Ok(Topology::Cluster { nodes });
        }
        let service = service.ok_or_else(|| bad("a sentinel URL needs ?sentinelServiceName=NAME".into()))?;
        let db = if path.is_empty() { 0 } else { path.parse().map_err(|_| bad(format!("bad database {path:?}")))? };
        let sentinel_auth = match (&sentinel_user, &sentinel_pass) {
            (Some(u), Some(p)) => format!("{u}:{p}@"),
            (None, Some(p)) => format!(":{p}@"),
            _ => String::new(),
        };
        let sentinels = hosts.iter().map(|h| format!("{node_scheme}://{sentinel_auth}{h}")).collect();
        Ok(Topology::Sentinel { sentinels, service, tls, db, username, password })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_passwords() {
        assert_eq!(redact_url("redis://:secret@h:6379/0"), "redis://:***@h:6379/0");
        assert_eq!(redact_url("redis://user:secret@h"), "redis://user:***@h");
        assert_eq!(redact_url("redis://h:6379"), "redis://h:6379");
        assert_eq!(redact_url("postgres://app:secret@db:5432/x"), "postgres://app:***@db:5432/x");
        assert_eq!(redact_url("postgres://postgres@127.0.0.1/x"), "postgres://postgres@127.0.0.1/x");
        assert_eq!(redact_url("sqlite:/tmp/a.db"), "sqlite:/tmp/a.db");
        assert_eq!(
            redact_url("redis-sentinel://a:b@h:1?sentinelServiceName=m&sentinelPassword=zz"),
            "redis-sentinel://a:***@h:1?sentinelServiceName=m&sentinelPassword=***"
        );
    }

    #[test]
    fn the_cli_docs_name_every_form() {
        let cli = include_str!("../../docs/CLI.md");
        let redis = include_str!("../../docs/REDIS.md");
        for scheme in SCHEMES.iter().filter(|s| !s.starts_with("rediss")) {
            assert!(
                cli.contains(&format!("`{scheme}://")) || cli.contains(&format!(" {scheme}://")),
                "CLI.md: {scheme}"
            );
            assert!(redis.contains(&format!("`{scheme}://")), "REDIS.md: {scheme}");
        }
    }

    #[test]
    fn parses_every_form() {
        assert_eq!(Topology::parse("redis://h:1").unwrap(), Topology::Node { url: "redis://h:1".into() });
        let Topology::Cluster { nodes, .. } = Topology::parse("redis-cluster://u:p@h:1?node=h:2&node=h:3").unwrap()
        else {
            panic!("cluster")
        };
        assert_eq!(nodes, ["redis://u:p@h:1", "redis://u:p@h:2", "redis://u:p@h:3"]);
        let Topology::Sentinel { sentinels, service, password, .. } =
            Topology::parse("redis-sentinel://:pw@h:1?sentinelServiceName=m&node=h:2").unwrap()
        else {
            panic!("sentinel")
        };
        assert_eq!(sentinels, ["redis://h:1", "redis://h:2"]);
        assert_eq!(service, "m");
        assert_eq!(password.as_deref(), Some("pw"));
        for bad in [
            "h:1",
            "http://h:1",
            "redis-sentinel://h:1",
            "redis-cluster://h",
            "redis-cluster://h:1?color=red",
            "redis-cluster://h:1/3",
        ] {
            assert!(Topology::parse(bad).is_err(), "{bad}");
        }
    }
}
