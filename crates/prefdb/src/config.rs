//! `prefdb.toml`: tables, object-store settings, and the `prefdb serve` options.
//!
//! Every key is optional. Command-line flags override the file. The README has a sample
//! with every key explained; `sample_config_parses` below keeps that sample honest.

use datafusion::common::{plan_err, DataFusionError, Result};
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

/// The longest `query_timeout_secs` or `shutdown_grace_secs` (and `--query-timeout`): a
/// year. Longer ones overflow the clock arithmetic of deadlines; 0 means no limit.
pub const MAX_SECONDS: u64 = 365 * 24 * 60 * 60;

/// The most `max_connections` (and `--max-connections`) may allow.
pub const MAX_CONNECTIONS: usize = 1_000_000;

impl Config {
    pub fn load(path: &Path) -> Result<Config> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            DataFusionError::Plan(format!("cannot read config file '{}': {e}", path.display()))
        })?;
        Config::parse(&text).map_err(|e| {
            DataFusionError::Plan(format!(
                "config file '{}': {}",
                path.display(),
                crate::user_message(&e)
            ))
        })
    }

    pub fn parse(text: &str) -> Result<Config> {
        let config: Config = toml::from_str(text).map_err(|e| {
            // "line 3, column 7: invalid type: ...", not toml's multi-line excerpt.
            let place = e.span().map(|span| {
                let before = &text[..span.start.min(text.len())];
                let line = before.matches('\n').count() + 1;
                let column = before.rsplit('\n').next().unwrap_or("").chars().count() + 1;
                format!("line {line}, column {column}: ")
            });
            DataFusionError::Plan(format!(
                "{}{}",
                place.unwrap_or_default(),
                e.message().trim()
            ))
        })?;
        config.validate().map_err(DataFusionError::Plan)?;
        Ok(config)
    }

    /// The checks TOML types cannot express, made when the file is read rather than when a
    /// setting is first used (or, for `[server]`, only by `prefdb serve`).
    fn validate(&self) -> std::result::Result<(), String> {
        for (name, location) in &self.tables {
            crate::tables::check_table_name(name).map_err(|e| format!("[tables] {e}"))?;
            if location.trim().is_empty() {
                return Err(format!("[tables] table '{name}' has an empty path"));
            }
        }
        let server = &self.server;
        if let Some(size) = &server.memory_limit {
            crate::limits::memory_limit_from(Some(size))
                .map_err(|e| format!("[server] memory_limit: {}", crate::user_message(&e)))?;
        }
        for (key, value) in [
            ("query_timeout_secs", server.query_timeout_secs),
            ("shutdown_grace_secs", server.shutdown_grace_secs),
        ] {
            if value.is_some_and(|secs| secs > MAX_SECONDS) {
                return Err(format!(
                    "[server] {key} must be at most {MAX_SECONDS} (a year), got {}",
                    value.unwrap_or_default()
                ));
            }
        }
        if let Some(n) = server.max_connections {
            if !(1..=MAX_CONNECTIONS).contains(&n) {
                return Err(format!(
                    "[server] max_connections must be from 1 to {MAX_CONNECTIONS}, got {n}"
                ));
            }
        }
        Ok(())
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
        other => {
            return plan_err!(
                "invalid size '{text}': unknown unit '{other}' (use B, KB, MB, GB or TB, or KiB, MiB, GiB, TiB)"
            )
        }
    };
    let bytes = value * scale;
    if bytes < 1.0 {
        return plan_err!("invalid size '{text}': must be at least 1 byte");
    }
    if bytes >= usize::MAX as f64 {
        return plan_err!("invalid size '{text}': too large");
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
        assert_eq!(
            parse_size("0").unwrap_err().to_string(),
            "Error during planning: invalid size '0': must be at least 1 byte"
        );
    }

    #[test]
    fn unknown_keys_are_errors() {
        let err = Config::parse("[server]\nlisten_on = 'x'").unwrap_err();
        assert_eq!(
            crate::user_message(&err),
            "line 2, column 1: unknown field `listen_on`, expected one of `listen`, `allow_ddl`, `max_connections`, `query_timeout_secs`, `memory_limit`, `shutdown_grace_secs`, `tls_cert`, `tls_key`"
        );
    }

    #[test]
    fn values_are_checked_when_the_file_is_read() {
        let message = |text: &str| crate::user_message(&Config::parse(text).unwrap_err());
        assert_eq!(
            message("[tables]\nt = 5\n"),
            "line 2, column 5: invalid type: integer `5`, expected a string"
        );
        assert_eq!(
            message("[tables]\n\"a b\" = 'v.parquet'\n"),
            "[tables] table name 'a b' must be letters, digits and underscores, not starting with a digit"
        );
        assert_eq!(
            message("[tables]\nt = ''\n"),
            "[tables] table 't' has an empty path"
        );
        assert_eq!(
            message("[server]\nmemory_limit = 'abc'\n"),
            "[server] memory_limit: invalid size 'abc': expected a number and a unit, as in 4GiB"
        );
        assert_eq!(
            message("[server]\nquery_timeout_secs = 18446744073709551615\n"),
            "[server] query_timeout_secs must be at most 31536000 (a year), got 18446744073709551615"
        );
        assert_eq!(
            message("[server]\nshutdown_grace_secs = 9223372036854775807\n"),
            "[server] shutdown_grace_secs must be at most 31536000 (a year), got 9223372036854775807"
        );
        assert_eq!(
            message("[server]\nmax_connections = 0\n"),
            "[server] max_connections must be from 1 to 1000000, got 0"
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
