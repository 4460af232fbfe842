//! `prefdb.toml`: tables, object-store settings, and the `prefdb serve` options.
//!
//! Every key is optional. Command-line flags override the file. The README has a sample
//! with every key explained; `sample_config_parses` below keeps that sample honest.

use datafusion::common::{plan_err, Result};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::Path;

/// The whole configuration file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// `name = "location"`: a path, glob or URL per table.
    #[serde(default)]
    pub tables: BTreeMap<String, String>,
    /// Object-store settings, keyed by scheme (`s3`, `gs`, `az`, `http`) or by a store URL
    /// (`"s3://my-bucket"`), whose keys override the scheme's. Values are passed to the
    /// `object_store` builders as configuration keys (`endpoint`, `region`, `allow_http`,
    /// `skip_signature`, `access_key_id`, `use_emulator`, ...).
    #[serde(default)]
    pub stores: BTreeMap<String, BTreeMap<String, toml::Value>>,
    #[serde(default)]
    pub server: ServerConfig,
    /// Password-authenticated users for `prefdb serve`.
    #[serde(default)]
    pub users: Vec<UserConfig>,
}

/// The `[server]` section.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    /// Address to listen on; default `127.0.0.1:5432`.
    pub listen: Option<String>,
    /// Let clients run DDL and DML (CREATE EXTERNAL TABLE, INSERT, COPY, SET datafusion.*).
    pub allow_ddl: Option<bool>,
    /// Most simultaneous client connections; default 64.
    pub max_connections: Option<usize>,
    /// Seconds a statement may run before it is cancelled; default 300, 0 for none.
    pub query_timeout_secs: Option<u64>,
    /// Memory the query engine may hold, for all queries together ("4GiB", "512MB").
    pub memory_limit: Option<String>,
    /// Seconds that running queries get to finish after Ctrl-C or SIGTERM; default 10.
    pub shutdown_grace_secs: Option<u64>,
    /// PEM certificate chain and PKCS#8 key for TLS.
    pub tls_cert: Option<String>,
    pub tls_key: Option<String>,
}

/// One `[[users]]` entry.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserConfig {
    pub name: String,
    /// The password itself, or
    pub password: Option<String>,
    /// the name of an environment variable that holds it.
    pub password_env: Option<String>,
}

impl UserConfig {
    pub fn resolve_password(&self) -> Result<String> {
        match (&self.password, &self.password_env) {
            (Some(p), None) => Ok(p.clone()),
            (None, Some(var)) => match std::env::var(var) {
                Ok(p) if !p.is_empty() => Ok(p),
                _ => plan_err!(
                    "user '{}': environment variable {var} (password_env) is not set",
                    self.name
                ),
            },
            _ => plan_err!(
                "user '{}' needs exactly one of password and password_env",
                self.name
            ),
        }
    }
}

impl Config {
    pub fn load(path: &Path) -> Result<Config> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            datafusion::error::DataFusionError::Plan(format!(
                "cannot read config file '{}': {e}",
                path.display()
            ))
        })?;
        Config::parse(&text).map_err(|e| {
            datafusion::error::DataFusionError::Plan(format!("{}: {e}", path.display()))
        })
    }

    pub fn parse(text: &str) -> Result<Config> {
        toml::from_str(text).map_err(|e| {
            datafusion::error::DataFusionError::Plan(format!(
                "invalid config: {}",
                e.to_string().trim()
            ))
        })
    }
}

/// Parse a size such as `4GiB`, `512MB`, `1g` or a plain byte count.
pub fn parse_size(text: &str) -> Result<usize> {
    let t = text.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let Ok(value) = number.parse::<f64>() else {
        return plan_err!("invalid size '{text}': expected a number and a unit, as in 4GiB");
    };
    let scale: f64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "k" | "kb" | "kib" => 1024.0,
        "m" | "mb" | "mib" => 1024.0 * 1024.0,
        "g" | "gb" | "gib" => 1024.0 * 1024.0 * 1024.0,
        "t" | "tb" | "tib" => 1024.0f64.powi(4),
        other => return plan_err!("invalid size '{text}': unknown unit '{other}'"),
    };
    let bytes = value * scale;
    if !(bytes >= 1.0 && bytes < usize::MAX as f64) {
        return plan_err!("invalid size '{text}'");
    }
    Ok(bytes as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("512MB").unwrap(), 512 << 20);
        assert_eq!(parse_size("4GiB").unwrap(), 4 << 30);
        assert_eq!(parse_size("1g").unwrap(), 1 << 30);
        assert_eq!(parse_size("1000").unwrap(), 1000);
        assert!(parse_size("lots").is_err());
        assert!(parse_size("5 parsecs").is_err());
    }

    #[test]
    fn unknown_keys_are_errors() {
        let err = Config::parse("[server]\nlisten_on = 'x'").unwrap_err();
        assert!(
            err.to_string().contains("unknown field `listen_on`"),
            "{err}"
        );
    }

    #[test]
    fn user_passwords() {
        let c = Config::parse("[[users]]\nname='a'\npassword='p'\n[[users]]\nname='b'").unwrap();
        assert_eq!(c.users[0].resolve_password().unwrap(), "p");
        assert!(c.users[1]
            .resolve_password()
            .unwrap_err()
            .to_string()
            .contains("exactly one of password and password_env"));
    }
}
