//! The kiosk's configuration file (`config.json` in the data folder): which server, and the
//! kiosk's own token. The token names the kiosk (`<kiosk-id>.<secret>`), so the kiosk knows
//! its id offline from the moment it is set up.

use std::path::{Path, PathBuf};

use pm_shared::KioskId;
use serde::{Deserialize, Serialize};

use crate::KioskError;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Base URL of the sync server, e.g. `https://pm.example.org`.
    pub server: String,
    pub token: String,
}

impl Config {
    pub fn path(data_dir: &Path) -> PathBuf {
        data_dir.join("config.json")
    }

    /// Checks a server URL and token given at setup.
    pub fn new(server: &str, token: &str) -> Result<Self, KioskError> {
        let config = Self {
            server: server.trim().trim_end_matches('/').to_owned(),
            token: token.trim().to_owned(),
        };
        config.validate("setup")?;
        Ok(config)
    }

    fn validate(&self, origin: &str) -> Result<(), KioskError> {
        let bad = |why: &str| KioskError::Config {
            path: origin.to_owned(),
            why: why.to_owned(),
        };
        check_server_url(&self.server).map_err(|why| bad(&why))?;
        self.kiosk_id().map_err(|_| bad("the token is not a kiosk token (expected KIOSK-ID.SECRET, as printed by `sync-server kiosk add`)"))?;
        Ok(())
    }

    /// The kiosk id the token carries.
    pub fn kiosk_id(&self) -> Result<KioskId, KioskError> {
        let (id, secret) = self.token.split_once('.').ok_or(KioskError::NotSetUp)?;
        if secret.len() < 16 {
            return Err(KioskError::NotSetUp);
        }
        Ok(KioskId::new(id)?)
    }

    /// Reads the config; `Ok(None)` when the kiosk was never set up.
    pub fn load(data_dir: &Path) -> Result<Option<Self>, KioskError> {
        let path = Self::path(data_dir);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        let origin = path.display().to_string();
        let config: Self = serde_json::from_str(&text).map_err(|e| KioskError::Config {
            path: origin.clone(),
            why: format!("not a valid kiosk configuration ({e}); run `kiosk setup` again"),
        })?;
        config.validate(&origin)?;
        Ok(Some(config))
    }

    /// Writes the config atomically, readable by the owner only (it holds the token).
    pub fn save(&self, data_dir: &Path) -> Result<(), KioskError> {
        std::fs::create_dir_all(data_dir)?;
        let path = Self::path(data_dir);
        let tmp = path.with_extension("json.tmp");
        let text = serde_json::to_string_pretty(self)
            .map_err(|e| KioskError::CorruptRecord(e.to_string()))?;
        // Private from its creation, before the token is written into it.
        let _ = std::fs::remove_file(&tmp);
        let mut file = crate::private_file(&tmp)?;
        std::io::Write::write_all(&mut file, text.as_bytes())?;
        file.sync_all()?;
        drop(file);
        std::fs::rename(&tmp, &path)?;
        Ok(())
    }
}

/// HTTPS anywhere; plain HTTP only to a loopback address (a reverse proxy on the same machine,
/// or tests): an address in 127.0.0.0/8, `::1`, or exactly `localhost`. Parsed as a URL (no
/// user or password: `http://127.0.0.1@elsewhere` names `elsewhere`).
pub fn check_server_url(text: &str) -> Result<(), String> {
    let url = url::Url::parse(text)
        .map_err(|e| format!("{text:?} is not a URL (expected https://host): {e}"))?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err(format!(
            "{text:?} carries a user name or password; give only https://host"
        ));
    }
    let host = url.host().ok_or_else(|| format!("{text:?} has no host"))?;
    let loopback = match host {
        url::Host::Domain(name) => name == "localhost",
        url::Host::Ipv4(ip) => ip.is_loopback(),
        url::Host::Ipv6(ip) => ip.is_loopback(),
    };
    match url.scheme() {
        "https" => Ok(()),
        "http" if loopback => Ok(()),
        "http" => Err("plain http is allowed only to a loopback address; use https".into()),
        other => Err(format!("unsupported scheme {other:?}; use https")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_urls() {
        assert!(check_server_url("https://pm.example.org").is_ok());
        assert!(check_server_url("http://127.0.0.1:8080").is_ok());
        assert!(check_server_url("http://[::1]:8080").is_ok());
        assert!(check_server_url("http://pm.example.org").is_err());
        assert!(check_server_url("ftp://x").is_err());
        assert!(check_server_url("pm.example.org").is_err());
        // Only a real loopback host: not a user name before another host, not a look-alike.
        assert!(check_server_url("http://127.0.0.1@other-host").is_err());
        assert!(check_server_url("http://127.other-host").is_err());
        assert!(check_server_url("http://localhost.other-host").is_err());
        assert!(check_server_url("http://user:pw@127.0.0.1:8080").is_err());
        assert!(check_server_url("https://user@pm.example.org").is_err());
        assert!(check_server_url("http://127.0.0.9:8080/").is_ok());
        assert!(check_server_url("http://localhost:8080").is_ok());
    }

    #[test]
    fn tokens_name_the_kiosk() {
        let c = Config::new("http://127.0.0.1:1", "k-1.ABCDEFGHIJKLMNOPQRST").expect("config");
        assert_eq!(c.kiosk_id().expect("kiosk").as_str(), "k-1");
        assert!(Config::new("http://127.0.0.1:1", "nodot").is_err());
        assert!(Config::new("http://127.0.0.1:1", "k 1.ABCDEFGHIJKLMNOPQRST").is_err());
    }

    #[test]
    fn corrupt_config_is_a_clear_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        assert_eq!(Config::load(dir.path()).ok(), Some(None));
        std::fs::write(Config::path(dir.path()), "{not json").expect("write");
        let err = Config::load(dir.path()).expect_err("corrupt");
        assert!(
            err.to_string().contains("not a valid kiosk configuration"),
            "{err}"
        );
        let c = Config::new("https://x.org", "k-1.ABCDEFGHIJKLMNOPQRST").expect("config");
        c.save(dir.path()).expect("save");
        assert_eq!(Config::load(dir.path()).ok().flatten(), Some(c));
    }
}
