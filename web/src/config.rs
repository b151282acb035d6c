//! What the dashboard is given. `weir web` builds it from its flags
//! (docs/DASHBOARD.md); an app that mounts the router builds it itself.
use weir_store::Store;

/// The dashboard's settings. Defaults are documented per field.
#[derive(Debug, Clone, Default)]
pub struct WebConfig {
    /// Where the dashboard lives: "" (the root, the default) or a path such
    /// as `/weir` with no trailing slash. See [`normalize_base_path`].
    pub base_path: String,
    /// Hide every action and refuse every POST but login with 403. Default off.
    pub read_only: bool,
    /// When set, every page but the login form asks for this token (a login
    /// cookie or `Authorization: Bearer`). Default none: `weir web` requires
    /// one unless it listens on a loopback address or is told
    /// `--insecure-no-auth`.
    pub auth_token: Option<String>,
    /// The durable store, for the dead-job archive and the 24 h history.
    /// Default none.
    pub store: Option<Store>,
}

/// A base path as given (`/weir/`, `weir`, `/`) in the form routes take:
/// "" or `/a/b`. Only `[A-Za-z0-9._~-]` segments.
pub fn normalize_base_path(raw: &str) -> Result<String, String> {
    let trimmed = raw.trim().trim_matches('/');
    if trimmed.is_empty() {
        return Ok(String::new());
    }
    for seg in trimmed.split('/') {
        let ok = !seg.is_empty()
            && seg.len() <= 64
            && seg.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '~' | '-'))
            && seg != "."
            && seg != "..";
        if !ok {
            return Err(format!(
                "invalid base path {raw:?}: use segments of [A-Za-z0-9._~-] separated by '/', such as /weir"
            ));
        }
    }
    Ok(format!("/{trimmed}"))
}

#[cfg(test)]
mod tests {
    use super::normalize_base_path as n;

    #[test]
    fn base_paths() {
        assert_eq!(n("").unwrap(), "");
        assert_eq!(n("/").unwrap(), "");
        assert_eq!(n("/weir/").unwrap(), "/weir");
        assert_eq!(n("ops/weir").unwrap(), "/ops/weir");
        assert!(n("/a//b").is_err());
        assert!(n("/../x").is_err());
        assert!(n("/<script>").is_err());
    }
}
