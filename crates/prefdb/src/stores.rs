//! Object stores on demand: `s3://`, `gs://`, `az://`/`abfs://` and `http(s)://` URLs
//! resolve to an `object_store` client the first time a table or query names them.
//!
//! Each client is built from the standard environment variables (`AWS_*`, `GOOGLE_*`,
//! `AZURE_*`, through the builders' `from_env`) and then the `[stores]` section of the
//! config file: first the scheme's table (`[stores.s3]`), then the store's own
//! (`[stores."s3://bucket"]`). Clients are cached per scheme and host. Because this is the
//! session's `ObjectStoreRegistry`, `CREATE EXTERNAL TABLE ... LOCATION 's3://...'` works
//! too, wherever DDL is allowed.

use datafusion::common::{DataFusionError, Result};
use datafusion::execution::object_store::{DefaultObjectStoreRegistry, ObjectStoreRegistry};
use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};
use object_store::azure::{AzureConfigKey, MicrosoftAzureBuilder};
use object_store::gcp::{GoogleCloudStorageBuilder, GoogleConfigKey};
use object_store::http::HttpBuilder;
use object_store::{ClientConfigKey, ObjectStore};
use std::collections::BTreeMap;
use std::str::FromStr;
use std::sync::Arc;
use url::Url;

/// Settings per scheme or store URL, as strings.
pub type StoreSettings = BTreeMap<String, BTreeMap<String, String>>;

/// Turn the config file's `[stores]` tables into strings (TOML booleans and numbers
/// become their text, which is what the `object_store` builders parse).
pub fn settings_from_config(
    stores: &BTreeMap<String, BTreeMap<String, toml::Value>>,
) -> StoreSettings {
    stores
        .iter()
        .map(|(store, keys)| {
            let keys = keys
                .iter()
                .map(|(k, v)| {
                    let text = match v {
                        toml::Value::String(s) => s.clone(),
                        other => other.to_string(),
                    };
                    (k.clone(), text)
                })
                .collect();
            (store.clone(), keys)
        })
        .collect()
}

/// Which builder serves a URL scheme.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    S3,
    Gcs,
    Azure,
    Http,
}

fn kind_of(scheme: &str) -> Option<(Kind, &'static str)> {
    Some(match scheme {
        "s3" | "s3a" => (Kind::S3, "s3"),
        "gs" | "gcs" => (Kind::Gcs, "gs"),
        "az" | "azure" | "abfs" | "abfss" | "adl" => (Kind::Azure, "az"),
        "http" | "https" => (Kind::Http, "http"),
        _ => return None,
    })
}

/// The URL schemes prefdb reads tables from, for messages.
pub const SUPPORTED_SCHEMES: &str = "s3://, gs://, az://, abfs(s)://, http(s):// and file:// URLs";

/// Whether prefdb reads URLs with this (lower-case) scheme.
pub fn is_supported_scheme(scheme: &str) -> bool {
    scheme == "file" || kind_of(scheme).is_some()
}

/// Whether `key` is an option of the object store for `kind`.
fn is_option(kind: Kind, key: &str) -> bool {
    match kind {
        Kind::S3 => AmazonS3ConfigKey::from_str(key).is_ok(),
        Kind::Gcs => GoogleConfigKey::from_str(key).is_ok(),
        Kind::Azure => AzureConfigKey::from_str(key).is_ok(),
        Kind::Http => ClientConfigKey::from_str(key).is_ok(),
    }
}

/// The session's object-store registry: local files as DataFusion has them, plus cloud and
/// HTTP stores built on first use.
#[derive(Debug)]
pub struct PrefdbStores {
    /// DataFusion's registry keeps every store, built or registered, keyed by scheme and
    /// host; this type only adds building one on a miss.
    known: DefaultObjectStoreRegistry,
    settings: StoreSettings,
}

impl PrefdbStores {
    pub fn new(settings: StoreSettings) -> Result<Self> {
        // Checked here, at start-up, rather than when a query first names the store.
        for (name, keys) in &settings {
            let scheme = name.split("://").next().unwrap_or(name);
            // The section as the config file spells it: [stores.s3], [stores."s3://bucket"].
            let section = if name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                format!("[stores.{name}]")
            } else {
                format!("[stores.\"{name}\"]")
            };
            let Some((kind, family)) = kind_of(scheme) else {
                return Err(DataFusionError::Configuration(format!(
                    "{section}: unknown store; use s3, gs, az or http, or a URL such as \"s3://bucket\""
                )));
            };
            if let Some(key) = keys.keys().find(|k| !is_option(kind, k)) {
                return Err(DataFusionError::Configuration(format!(
                    "{section}: '{key}' is not an option of the {family} object store"
                )));
            }
        }
        Ok(PrefdbStores {
            known: DefaultObjectStoreRegistry::new(),
            settings,
        })
    }

    /// The settings that apply to a store: the scheme's, then the store URL's.
    fn settings_for(&self, family: &str, store_key: &str) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for key in [family, store_key] {
            if let Some(keys) = self.settings.get(key) {
                out.extend(keys.iter().map(|(k, v)| (k.clone(), v.clone())));
            }
        }
        out
    }

    fn build(
        &self,
        url: &Url,
        kind: Kind,
        family: &str,
        key: &str,
    ) -> Result<Arc<dyn ObjectStore>> {
        let mut settings = self.settings_for(family, key);
        // A URL or endpoint the user wrote as http:// is a choice, not a mistake: allow
        // plain HTTP for it unless the settings say otherwise (object_store refuses by
        // default). Earlier entries lose to later ones, so this goes first.
        let plain_http = url.scheme() == "http"
            || settings
                .iter()
                .any(|(k, v)| k.contains("endpoint") && v.starts_with("http://"));
        if plain_http {
            settings.insert(0, ("allow_http".to_string(), "true".to_string()));
        }
        let bad_key = |k: &str| {
            DataFusionError::Configuration(format!(
                "[stores.{family}]: '{k}' is not an option of the {family} object store"
            ))
        };
        let store_err = |e: object_store::Error| {
            DataFusionError::Configuration(format!("cannot set up object store for {key}: {e}"))
        };
        let store: Arc<dyn ObjectStore> = match kind {
            Kind::S3 => {
                let mut b = AmazonS3Builder::from_env().with_url(url.as_str());
                for (k, v) in &settings {
                    b = b.with_config(AmazonS3ConfigKey::from_str(k).map_err(|_| bad_key(k))?, v);
                }
                Arc::new(b.build().map_err(store_err)?)
            }
            Kind::Gcs => {
                let mut b = GoogleCloudStorageBuilder::from_env().with_url(url.as_str());
                for (k, v) in &settings {
                    b = b.with_config(GoogleConfigKey::from_str(k).map_err(|_| bad_key(k))?, v);
                }
                Arc::new(b.build().map_err(store_err)?)
            }
            Kind::Azure => {
                let mut b = MicrosoftAzureBuilder::from_env().with_url(url.as_str());
                for (k, v) in &settings {
                    b = b.with_config(AzureConfigKey::from_str(k).map_err(|_| bad_key(k))?, v);
                }
                Arc::new(b.build().map_err(store_err)?)
            }
            Kind::Http => {
                let mut b = HttpBuilder::new().with_url(key);
                for (k, v) in &settings {
                    b = b.with_config(ClientConfigKey::from_str(k).map_err(|_| bad_key(k))?, v);
                }
                Arc::new(b.build().map_err(store_err)?)
            }
        };
        Ok(store)
    }
}

/// The error for a URL no store serves: an unknown scheme, or a `file://` URL with a host.
fn unknown_store(url: &Url) -> DataFusionError {
    let scheme = url.scheme();
    if scheme == "file" {
        return DataFusionError::Configuration(format!(
            "file URL '{url}' names a host ('{}'): write file:///absolute/path, or the path itself",
            url.host_str().unwrap_or("")
        ));
    }
    DataFusionError::Configuration(format!(
        "unsupported URL scheme '{scheme}://' in '{url}': prefdb reads {SUPPORTED_SCHEMES}"
    ))
}

/// `scheme://host[:port]`, the unit a client is built and cached for.
fn store_key(url: &Url) -> String {
    let host = url.host_str().unwrap_or("");
    match url.port() {
        Some(port) => format!("{}://{host}:{port}", url.scheme()),
        None => format!("{}://{host}", url.scheme()),
    }
}

impl ObjectStoreRegistry for PrefdbStores {
    fn register_store(
        &self,
        url: &Url,
        store: Arc<dyn ObjectStore>,
    ) -> Option<Arc<dyn ObjectStore>> {
        self.known.register_store(url, store)
    }

    fn get_store(&self, url: &Url) -> Result<Arc<dyn ObjectStore>> {
        let found = self.known.get_store(url);
        let Some((kind, family)) = kind_of(url.scheme()) else {
            // DataFusion calls a missing store an internal error; it is the user's URL.
            return found.map_err(|_| unknown_store(url));
        };
        if found.is_ok() {
            return found;
        }
        let store = self.build(url, kind, family, &store_key(url))?;
        self.known.register_store(url, Arc::clone(&store));
        Ok(store)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_keys_and_kinds() {
        let u = Url::parse("s3://bucket/votes/*.parquet").unwrap();
        assert_eq!(store_key(&u), "s3://bucket");
        let u = Url::parse("http://127.0.0.1:8080/data/v.parquet").unwrap();
        assert_eq!(store_key(&u), "http://127.0.0.1:8080");
        assert_eq!(kind_of("abfss").unwrap().0, Kind::Azure);
        assert!(kind_of("ftp").is_none());
    }

    #[test]
    fn bad_settings_are_clear_errors() {
        let mut s = StoreSettings::new();
        s.insert("ftp".into(), BTreeMap::new());
        assert!(PrefdbStores::new(s)
            .unwrap_err()
            .to_string()
            .contains("unknown store"));

        let mut s = StoreSettings::new();
        s.insert(
            "s3".into(),
            [("colour".to_string(), "blue".to_string())].into(),
        );
        let err = PrefdbStores::new(s).unwrap_err();
        assert_eq!(
            crate::user_message(&err),
            "[stores.s3]: 'colour' is not an option of the s3 object store"
        );

        let stores = PrefdbStores::new(StoreSettings::new()).unwrap();
        let err = stores
            .get_store(&Url::parse("ftp://host/x.parquet").unwrap())
            .unwrap_err();
        assert_eq!(
            crate::user_message(&err),
            "unsupported URL scheme 'ftp://' in 'ftp://host/x.parquet': prefdb reads s3://, gs://, az://, abfs(s)://, http(s):// and file:// URLs"
        );
    }
}
