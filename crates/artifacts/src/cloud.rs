//! Object-store URIs (`s3://`, `gs://`, `wasbs://`, `abfss://`) and the clients that reach
//! them, configured from the environment variables MLflow's Python repositories read.
//! One client per bucket per process, built on first use.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use ferroflow_core::{Error, ErrorCode, Result};
use object_store::aws::AmazonS3Builder;
use object_store::azure::MicrosoftAzureBuilder;
use object_store::gcp::GoogleCloudStorageBuilder;
use object_store::{BackoffConfig, ClientOptions, RetryConfig};

use crate::object::Bucket;

/// The schemes served by an object store.
pub const SCHEMES: &[&str] = &["s3", "gs", "wasbs", "abfss"];

/// An object-store URI split into its bucket and the key prefix inside it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectUri {
    pub scheme: String,
    /// The bucket (S3, GCS) or container (Azure).
    pub bucket: String,
    /// The Azure storage account, and the host's endpoint suffix after it.
    pub account: Option<(String, String)>,
    pub prefix: String,
}

impl ObjectUri {
    /// Splits `uri` when its scheme is an object store's; `None` otherwise.
    pub fn parse(uri: &str) -> Option<Result<ObjectUri>> {
        let (scheme, rest) = uri.split_once("://")?;
        let scheme = scheme.to_ascii_lowercase();
        if !SCHEMES.contains(&scheme.as_str()) {
            return None;
        }
        let (authority, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        let prefix = prefix.split(['?', '#']).next().unwrap_or_default();
        let prefix = prefix
            .split('/')
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join("/");
        let bad = |why: &str| {
            Some(Err(Error::invalid_param(format!(
                "Invalid artifact URI '{uri}': {why}"
            ))))
        };
        if scheme == "wasbs" || scheme == "abfss" {
            // wasbs://<container>@<account>.blob.core.windows.net/<path>, and abfss's
            // <filesystem>@<account>.dfs.core.windows.net, as MLflow spells them.
            let Some((container, host)) = authority.split_once('@') else {
                return bad("expected <container>@<account>.blob.core.windows.net");
            };
            let Some((account, suffix)) = host.split_once('.') else {
                return bad("expected <container>@<account>.blob.core.windows.net");
            };
            if container.is_empty() || account.is_empty() {
                return bad("the container and the account must not be empty");
            }
            return Some(Ok(ObjectUri {
                scheme,
                bucket: container.to_string(),
                account: Some((account.to_string(), suffix.to_string())),
                prefix,
            }));
        }
        if authority.is_empty() {
            return bad("the bucket must not be empty");
        }
        Some(Ok(ObjectUri {
            scheme,
            bucket: authority.to_string(),
            account: None,
            prefix,
        }))
    }

    /// The bucket's own URI, without the prefix.
    pub fn bucket_uri(&self) -> String {
        match &self.account {
            Some((account, suffix)) => {
                format!("{}://{}@{account}.{suffix}", self.scheme, self.bucket)
            }
            None => format!("{}://{}", self.scheme, self.bucket),
        }
    }
}

/// The client of the bucket `uri` names, built on first use and shared after.
pub fn bucket(uri: &ObjectUri) -> Result<Arc<Bucket>> {
    static CACHE: OnceLock<Mutex<HashMap<String, Arc<Bucket>>>> = OnceLock::new();
    let name = uri.bucket_uri();
    let cache = CACHE.get_or_init(Default::default);
    if let Some(b) = cache.lock().unwrap_or_else(|p| p.into_inner()).get(&name) {
        return Ok(b.clone());
    }
    let built = Arc::new(build(uri, &name)?);
    cache
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(name, built.clone());
    Ok(built)
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

fn truthy(name: &str) -> bool {
    env(name).is_some_and(|v| {
        matches!(
            v.trim().to_ascii_lowercase().as_str(),
            "1" | "true" | "yes" | "on"
        )
    })
}

/// Timeouts and retries shared by every store: a dead endpoint fails in seconds, not minutes.
fn client_options(endpoint: Option<&str>) -> ClientOptions {
    ClientOptions::new()
        .with_connect_timeout(Duration::from_secs(10))
        // A whole large download is one request; stalls are caught by the retries.
        .with_timeout(Duration::from_secs(15 * 60))
        .with_allow_http(endpoint.is_some_and(|e| e.starts_with("http://")))
}

fn retry() -> RetryConfig {
    RetryConfig {
        backoff: BackoffConfig::default(),
        max_retries: 3,
        retry_timeout: Duration::from_secs(30),
    }
}

fn config_error(bucket: &str, e: object_store::Error) -> Error {
    Error::new(
        ErrorCode::INVALID_PARAMETER_VALUE,
        format!("Cannot use the artifact store {bucket}: {e}"),
    )
}

fn build(uri: &ObjectUri, name: &str) -> Result<Bucket> {
    match uri.scheme.as_str() {
        "s3" => {
            let s3 = s3_builder(&uri.bucket, name)?
                .build()
                .map_err(|e| config_error(name, e))?;
            Ok(Bucket::new(name, s3))
        }
        "gs" => {
            let mut b = GoogleCloudStorageBuilder::from_env()
                .with_bucket_name(&uri.bucket)
                .with_retry(retry());
            // google-cloud-storage's emulator switch: no OAuth, the emulator's URL.
            let emulator = env("STORAGE_EMULATOR_HOST").map(|host| {
                if host.contains("://") {
                    host.trim_end_matches('/').to_string()
                } else {
                    format!("http://{host}")
                }
            });
            if let Some(base) = &emulator {
                b = b
                    .with_service_account_key(emulator_key(base))
                    .with_base_url(base);
            } else if let Some(path) = env("GOOGLE_APPLICATION_CREDENTIALS") {
                b = b.with_application_credentials(path);
            }
            let gcs = b
                .with_client_options(client_options(emulator.as_deref()))
                .build()
                .map_err(|e| config_error(name, e))?;
            Ok(Bucket::new(name, gcs))
        }
        _ => {
            let (account, suffix) = uri.account.clone().unwrap_or_default();
            let mut b = MicrosoftAzureBuilder::new()
                .with_container_name(&uri.bucket)
                .with_account(&account)
                .with_retry(retry());
            let mut endpoint = None;
            if let Some(conn) = env("AZURE_STORAGE_CONNECTION_STRING") {
                let parts = connection_string(&conn);
                let get = |k: &str| {
                    parts
                        .iter()
                        .find(|(n, _)| n.eq_ignore_ascii_case(k))
                        .map(|(_, v)| v.clone())
                };
                if get("UseDevelopmentStorage").is_some_and(|v| v.eq_ignore_ascii_case("true")) {
                    b = b.with_use_emulator(true);
                }
                if let Some(name) = get("AccountName") {
                    b = b.with_account(name);
                }
                if let Some(key) = get("AccountKey") {
                    b = b.with_access_key(key);
                }
                if let Some(sas) = get("SharedAccessSignature") {
                    b = b.with_sas_authorization(sas_pairs(&sas));
                }
                endpoint = get("BlobEndpoint").or_else(|| {
                    get("EndpointSuffix").map(|s| {
                        let proto =
                            get("DefaultEndpointsProtocol").unwrap_or_else(|| "https".into());
                        format!(
                            "{proto}://{}.blob.{s}",
                            get("AccountName").unwrap_or(account.clone())
                        )
                    })
                });
            } else if let Some(key) = env("AZURE_STORAGE_ACCESS_KEY") {
                b = b.with_access_key(key);
            } else {
                // Azure's default chain (managed identity, the CLI, client secrets from
                // AZURE_CLIENT_ID/AZURE_TENANT_ID/AZURE_CLIENT_SECRET) as object_store reads it.
                for (k, v) in std::env::vars() {
                    if k.starts_with("AZURE_")
                        && let Ok(key) = k.to_ascii_lowercase().parse()
                    {
                        b = b.with_config(key, v);
                    }
                }
            }
            let endpoint = endpoint.or_else(|| blob_endpoint(&account, &suffix));
            if let Some(e) = &endpoint {
                b = b.with_endpoint(e.trim_end_matches('/').to_string());
            }
            let az = b
                .with_client_options(client_options(endpoint.as_deref()))
                .build()
                .map_err(|e| config_error(name, e))?;
            Ok(Bucket::new(name, az))
        }
    }
}

/// The Blob endpoint of the account a URI's host names: `dfs.` (abfss) becomes `blob.`, and
/// sovereign clouds' suffixes (`blob.core.chinacloudapi.cn`, ...) are kept.
fn blob_endpoint(account: &str, suffix: &str) -> Option<String> {
    if suffix.is_empty() {
        return None;
    }
    let blob = match suffix.strip_prefix("dfs.") {
        Some(rest) => format!("blob.{rest}"),
        None => suffix.to_string(),
    };
    Some(format!("https://{account}.{blob}"))
}

/// A service-account key that tells object_store to skip OAuth and talk to `base`.
fn emulator_key(base: &str) -> String {
    format!(
        r#"{{"private_key":"","private_key_id":"","client_email":"emulator@localhost","disable_oauth":true,"gcs_base_url":"{base}"}}"#
    )
}

/// `Key=Value;Key=Value` pairs of an Azure connection string (values may hold `=`).
fn connection_string(s: &str) -> Vec<(String, String)> {
    s.split(';')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect()
}

fn sas_pairs(sas: &str) -> Vec<(String, String)> {
    sas.trim_start_matches('?')
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_string(), ferroflow_core::uri::percent_decode(v)))
        .collect()
}

/// S3 as boto3 is configured: `AWS_*` variables, then the shared credentials and config
/// files (`AWS_PROFILE`, `AWS_SHARED_CREDENTIALS_FILE`, `AWS_CONFIG_FILE`), then the
/// instance's role unless `AWS_EC2_METADATA_DISABLED`; MLflow's `MLFLOW_S3_ENDPOINT_URL`
/// and `MLFLOW_S3_IGNORE_TLS` on top.
fn s3_builder(bucket: &str, name: &str) -> Result<AmazonS3Builder> {
    let mut b = AmazonS3Builder::from_env()
        .with_bucket_name(bucket)
        .with_retry(retry());
    let profile = env("AWS_PROFILE").unwrap_or_else(|| "default".into());
    let home = std::env::var("HOME").unwrap_or_default();
    let has_keys = env("AWS_ACCESS_KEY_ID").is_some() && env("AWS_SECRET_ACCESS_KEY").is_some();
    let mut found_keys = has_keys;
    if !has_keys {
        let file = env("AWS_SHARED_CREDENTIALS_FILE")
            .unwrap_or_else(|| format!("{home}/.aws/credentials"));
        if let Ok(text) = std::fs::read_to_string(&file) {
            let section = ini_section(&text, &profile);
            let get = |k: &str| section.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
            if let (Some(id), Some(secret)) =
                (get("aws_access_key_id"), get("aws_secret_access_key"))
            {
                b = b.with_access_key_id(id).with_secret_access_key(secret);
                if let Some(token) = get("aws_session_token") {
                    b = b.with_token(token);
                }
                found_keys = true;
            }
        }
    }
    if env("AWS_DEFAULT_REGION").is_none() && env("AWS_REGION").is_none() {
        let file = env("AWS_CONFIG_FILE").unwrap_or_else(|| format!("{home}/.aws/config"));
        if let Ok(text) = std::fs::read_to_string(&file) {
            let wanted = if profile == "default" {
                "default".to_string()
            } else {
                format!("profile {profile}")
            };
            if let Some((_, region)) = ini_section(&text, &wanted)
                .into_iter()
                .find(|(k, _)| k == "region")
            {
                b = b.with_region(region);
            }
        }
    }
    let other_source = [
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    ]
    .iter()
    .any(|v| env(v).is_some())
        || truthy("AWS_SKIP_SIGNATURE");
    if !found_keys && !other_source && truthy("AWS_EC2_METADATA_DISABLED") {
        return Err(Error::new(
            ErrorCode::INVALID_PARAMETER_VALUE,
            format!(
                "Unable to locate AWS credentials for {name}: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or a profile in ~/.aws/credentials"
            ),
        ));
    }
    let endpoint = env("MLFLOW_S3_ENDPOINT_URL")
        .or_else(|| env("AWS_ENDPOINT_URL_S3"))
        .or_else(|| env("AWS_ENDPOINT_URL"));
    if let Some(e) = &endpoint {
        b = b.with_endpoint(e.trim_end_matches('/'));
    }
    let options = client_options(endpoint.as_deref())
        .with_allow_invalid_certificates(truthy("MLFLOW_S3_IGNORE_TLS"));
    Ok(b.with_client_options(options))
}

/// The `key = value` lines of section `[name]` of an INI file, keys lowercased.
fn ini_section(text: &str, name: &str) -> Vec<(String, String)> {
    let mut inside = false;
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('#') || line.starts_with(';') || line.is_empty() {
            continue;
        }
        if let Some(section) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            inside = section.trim() == name;
            continue;
        }
        if inside && let Some((k, v)) = line.split_once('=') {
            out.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris_split_as_mlflow_spells_them() {
        let u = ObjectUri::parse("s3://bkt/a/b//c/").unwrap().unwrap();
        assert_eq!((u.bucket.as_str(), u.prefix.as_str()), ("bkt", "a/b/c"));
        assert_eq!(u.bucket_uri(), "s3://bkt");
        let u = ObjectUri::parse("wasbs://cont@acct.blob.core.windows.net/x/y")
            .unwrap()
            .unwrap();
        assert_eq!(u.bucket, "cont");
        assert_eq!(
            u.account,
            Some(("acct".into(), "blob.core.windows.net".into()))
        );
        assert_eq!(u.prefix, "x/y");
        assert!(
            ObjectUri::parse("wasbs://acct.blob.core.windows.net/x")
                .unwrap()
                .is_err()
        );
        assert!(ObjectUri::parse("s3:///x").unwrap().is_err());
        assert!(ObjectUri::parse("file:///x").is_none());
        assert!(
            ObjectUri::parse("gs://b")
                .unwrap()
                .unwrap()
                .prefix
                .is_empty()
        );
    }

    #[test]
    fn ini_sections_and_connection_strings() {
        let ini = "[default]\naws_access_key_id = A\n[profile dev]\nregion=eu-west-3\n";
        assert_eq!(
            ini_section(ini, "default"),
            vec![("aws_access_key_id".into(), "A".into())]
        );
        assert_eq!(ini_section(ini, "profile dev")[0].1, "eu-west-3");
        let cs = connection_string(
            "DefaultEndpointsProtocol=http;AccountName=dev;AccountKey=a+b==;BlobEndpoint=http://127.0.0.1:10000/dev;",
        );
        assert_eq!(cs[2], ("AccountKey".into(), "a+b==".into()));
        assert_eq!(cs[3].1, "http://127.0.0.1:10000/dev");
    }
}
