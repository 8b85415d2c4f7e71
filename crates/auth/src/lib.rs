//! MLflow's `basic-auth` app: who is calling (HTTP basic credentials checked against the
//! users of MLflow's auth database) and what they may do (permissions granted through roles,
//! folded as MLflow folds them).
//!
//! - [`config`] reads MLflow's `basic_auth.ini` and its environment overrides;
//! - [`password`] hashes and verifies passwords in werkzeug's formats;
//! - [`policy`] is the pure part: permissions, grants and how a requirement is decided;
//! - [`store`] keeps users and grants on MLflow's auth schema;
//! - [`Auth`] puts them together for the server, with a bounded credential cache.
//!
//! The server maps each route to a [`policy::Requirement`] in one table; this crate never
//! sees HTTP.

pub mod config;
pub mod migrate;
pub mod password;
pub mod policy;
pub mod store;

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use ferroflow_core::{Error, Result};
use hmac::{KeyInit, Mac};

pub use config::AuthConfig;
pub use policy::{Action, Grant, Permission, Requirement};
pub use store::{AuthStore, User};

/// The password MLflow's `basic_auth.ini` once shipped for `admin` (GHSA-gq3w-7jj3-x7gr):
/// never accepted for an admin login, never accepted as a new admin password.
pub const LEGACY_ADMIN_PASSWORD: &str = "password1234";

/// The auth app: configuration, store and credential cache.
pub struct Auth {
    pub config: AuthConfig,
    pub store: AuthStore,
    cache: Option<CredentialCache>,
    /// A user's grants, read at most once per time-to-live while nothing was written here
    /// (with the credential cache on; a write on another replica shows within the TTL).
    grants: Option<Mutex<HashMap<i64, CachedGrants>>>,
}

impl Auth {
    /// Opens (or creates) the auth database and makes sure the admin user exists.
    pub async fn open(config: AuthConfig) -> Result<Auth> {
        let store = AuthStore::open(&config.database_uri).await?;
        bootstrap_admin(&store, &config).await?;
        let cache = (config.auth_cache_ttl_seconds > 0).then(|| {
            CredentialCache::new(
                Duration::from_secs(config.auth_cache_ttl_seconds),
                config.auth_cache_max_size.max(1),
            )
        });
        let grants = cache.as_ref().map(|_| Mutex::new(HashMap::new()));
        Ok(Auth {
            config,
            store,
            cache,
            grants,
        })
    }

    /// The grants `user` holds (in the default workspace).
    pub async fn grants_of(&self, user: &User) -> Result<std::sync::Arc<Vec<Grant>>> {
        let Some(cache) = &self.grants else {
            return Ok(std::sync::Arc::new(self.store.grants(user.id).await?));
        };
        let generation = self.store.generation();
        let ttl = Duration::from_secs(self.config.auth_cache_ttl_seconds);
        if let Some((_, _, g)) = cache
            .lock()
            .ok()
            .and_then(|m| m.get(&user.id).cloned())
            .filter(|(at, made, _)| *made == generation && at.elapsed() < ttl)
        {
            return Ok(g);
        }
        let fresh = std::sync::Arc::new(self.store.grants(user.id).await?);
        if let Ok(mut m) = cache.lock() {
            if m.len() >= self.config.auth_cache_max_size.max(1) {
                m.clear();
            }
            m.insert(user.id, (Instant::now(), generation, fresh.clone()));
        }
        Ok(fresh)
    }

    /// The user these credentials belong to, or `None` when they do not match.
    pub async fn authenticate(&self, username: &str, password: &str) -> Result<Option<User>> {
        if let Some(user) = self.cache.as_ref().and_then(|c| c.get(username, password)) {
            return Ok(Some(user));
        }
        let user = self.store.get_user(username).await?;
        // An unknown user costs a real check too (against a hash nobody knows), so response
        // times do not tell which usernames exist. The hash runs off the async workers.
        let hash = user.as_ref().map_or(password::DUMMY_HASH.to_string(), |u| {
            u.password_hash.clone()
        });
        let pw = password.to_string();
        let ok = tokio::task::spawn_blocking(move || password::verify(&hash, &pw))
            .await
            .map_err(|e| Error::internal(format!("password check failed: {e}")))?;
        let Some(user) = user.filter(|_| ok) else {
            return Ok(None);
        };
        if user.is_admin && password == LEGACY_ADMIN_PASSWORD {
            tracing::warn!(
                user = %username,
                "Refused an admin login with the default password older MLflow versions shipped (GHSA-gq3w-7jj3-x7gr). Set MLFLOW_AUTH_ADMIN_PASSWORD to a new password and restart to replace it."
            );
            return Ok(None);
        }
        if let Some(c) = &self.cache {
            c.put(username, password, user.clone());
        }
        Ok(Some(user))
    }

    /// Forgets cached credentials of `username` (after its password, admin flag or
    /// existence changed).
    pub fn forget(&self, username: &str) {
        if let Some(c) = &self.cache {
            c.forget(username);
        }
    }
}

/// Creates the configured admin on a database without it; on one where it still has the
/// legacy default password, replaces that with the configured one.
async fn bootstrap_admin(store: &AuthStore, config: &AuthConfig) -> Result<()> {
    let name = config.admin_username.clone().ok_or_else(|| {
        Error::invalid_param(
            "basic-auth needs an admin username: set MLFLOW_AUTH_ADMIN_USERNAME or admin_username in the file MLFLOW_AUTH_CONFIG_PATH names.",
        )
    })?;
    let bootstrap_password = |why: &str| -> Result<String> {
        let pw = config.admin_password.clone().ok_or_else(|| {
            Error::invalid_param(format!(
                "basic-auth needs a password to {why} admin user '{name}': set MLFLOW_AUTH_ADMIN_PASSWORD or admin_password in the file MLFLOW_AUTH_CONFIG_PATH names. There is no default password."
            ))
        })?;
        if pw == LEGACY_ADMIN_PASSWORD {
            return Err(Error::invalid_param(format!(
                "Refusing '{LEGACY_ADMIN_PASSWORD}' as the password of admin user '{name}': it is the default older MLflow versions published (GHSA-gq3w-7jj3-x7gr). Set MLFLOW_AUTH_ADMIN_PASSWORD or admin_password to another password."
            )));
        }
        password::check_policy(&pw).map_err(|e| {
            Error::invalid_param(format!(
                "The configured password of admin user '{name}' is not accepted: {} Set MLFLOW_AUTH_ADMIN_PASSWORD or admin_password to another.",
                e.message
            ))
        })?;
        Ok(pw)
    };
    match store.get_user(&name).await? {
        None => {
            let pw = bootstrap_password("create")?;
            match store.create_user(&name, &pw, true).await {
                Ok(_) => tracing::info!(user = %name, "created the admin user"),
                // Another replica created it at the same moment.
                Err(e) if e.code == ferroflow_core::ErrorCode::RESOURCE_ALREADY_EXISTS => {}
                Err(e) => return Err(e),
            }
        }
        Some(user) => {
            let legacy = password::verify(&user.password_hash, LEGACY_ADMIN_PASSWORD);
            if legacy {
                match config.admin_password.as_deref() {
                    Some(pw) if pw != LEGACY_ADMIN_PASSWORD => {
                        let pw = bootstrap_password("replace the default password of")?;
                        store.update_password(&name, &pw).await?;
                        tracing::warn!(user = %name, "replaced the admin's default password with the configured one; remove it from the configuration now");
                    }
                    _ => tracing::warn!(
                        user = %name,
                        "the admin user still has the default password older MLflow versions shipped; logins with it are refused. Set MLFLOW_AUTH_ADMIN_PASSWORD to a new one and restart."
                    ),
                }
            }
        }
    }
    Ok(())
}

type CacheKey = (String, [u8; 32]);
/// When they were read, the store's generation then, and the grants.
type CachedGrants = (Instant, u64, std::sync::Arc<Vec<Grant>>);

/// Verified credentials for a while: the expensive hash runs once per user, password and
/// time-to-live. Keys hold an HMAC of the password under a key made at start, never the
/// password itself.
struct CredentialCache {
    ttl: Duration,
    max: usize,
    key: [u8; 32],
    entries: Mutex<HashMap<CacheKey, (Instant, User)>>,
}

impl CredentialCache {
    fn new(ttl: Duration, max: usize) -> CredentialCache {
        let mut key = [0u8; 32];
        getrandom::fill(&mut key).expect("the operating system's random source");
        CredentialCache {
            ttl,
            max,
            key,
            entries: Mutex::new(HashMap::new()),
        }
    }

    fn key(&self, username: &str, password: &str) -> CacheKey {
        let mut mac =
            <hmac::Hmac<sha2::Sha256> as KeyInit>::new_from_slice(&self.key).expect("any key size");
        mac.update(password.as_bytes());
        (username.to_string(), mac.finalize().into_bytes().into())
    }

    fn get(&self, username: &str, password: &str) -> Option<User> {
        let key = self.key(username, password);
        let entries = self.entries.lock().ok()?;
        entries
            .get(&key)
            .filter(|(at, _)| at.elapsed() < self.ttl)
            .map(|(_, u)| u.clone())
    }

    fn put(&self, username: &str, password: &str, user: User) {
        let key = self.key(username, password);
        if let Ok(mut entries) = self.entries.lock() {
            if entries.len() >= self.max {
                let ttl = self.ttl;
                entries.retain(|_, (at, _)| at.elapsed() < ttl);
                if entries.len() >= self.max {
                    entries.clear();
                }
            }
            entries.insert(key, (Instant::now(), user));
        }
    }

    fn forget(&self, username: &str) {
        if let Ok(mut entries) = self.entries.lock() {
            entries.retain(|(u, _), _| u != username);
        }
    }
}
