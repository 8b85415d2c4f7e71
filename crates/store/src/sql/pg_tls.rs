//! TLS to PostgreSQL, with libpq's `sslmode` meanings, on rustls (ring).
//!
//! - `disable`: plain TCP.
//! - `allow`, `prefer` (the default): TLS when the server offers it, without checking its
//!   certificate; plain TCP when it does not.
//! - `require`: TLS or nothing; the certificate is not checked, unless `sslrootcert`
//!   is given, which makes it `verify-ca` (as in libpq).
//! - `verify-ca`: the certificate must chain to `sslrootcert`.
//! - `verify-full`: and it must name the host connected to.
//!
//! `sslrootcert` is a PEM file, or `system` for the bundled Mozilla roots; without it,
//! `~/.postgresql/root.crt`, as libpq looks for it.

use std::sync::Arc;

use ferroflow_core::Error;
use postgres::config::SslMode;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use tokio_postgres_rustls::MakeRustlsConnect;

/// What the URL's TLS parameters ask for.
pub struct TlsChoice {
    pub mode: SslMode,
    pub connector: Option<MakeRustlsConnect>,
}

/// Reads `sslmode` and `sslrootcert` (the values, already taken out of the URL).
pub fn choose(
    sslmode: Option<&str>,
    rootcert: Option<&str>,
) -> std::result::Result<TlsChoice, String> {
    let mode = sslmode.unwrap_or("prefer");
    let (wire, check) = match mode {
        "disable" => {
            return Ok(TlsChoice {
                mode: SslMode::Disable,
                connector: None,
            });
        }
        "allow" | "prefer" => (SslMode::Prefer, Check::Nothing),
        "require" if rootcert.is_some() => (SslMode::Require, Check::Chain),
        "require" => (SslMode::Require, Check::Nothing),
        "verify-ca" => (SslMode::Require, Check::Chain),
        "verify-full" => (SslMode::Require, Check::ChainAndName),
        other => {
            return Err(format!(
                "sslmode '{other}' is not one of disable, allow, prefer, require, verify-ca, verify-full"
            ));
        }
    };
    let verifier: Arc<dyn ServerCertVerifier> = match check {
        Check::Nothing => Arc::new(AnyCertificate(provider())),
        Check::Chain | Check::ChainAndName => {
            let roots = Arc::new(roots(rootcert)?);
            let webpki =
                rustls::client::WebPkiServerVerifier::builder_with_provider(roots, provider())
                    .build()
                    .map_err(|e| format!("cannot use the root certificates: {e}"))?;
            if matches!(check, Check::Chain) {
                Arc::new(AnyName(webpki))
            } else {
                webpki
            }
        }
    };
    let config = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS: {e}"))?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    Ok(TlsChoice {
        mode: wire,
        connector: Some(MakeRustlsConnect::new(config)),
    })
}

enum Check {
    Nothing,
    Chain,
    ChainAndName,
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn roots(rootcert: Option<&str>) -> std::result::Result<rustls::RootCertStore, String> {
    let mut store = rustls::RootCertStore::empty();
    if rootcert == Some("system") {
        store.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        return Ok(store);
    }
    let path = match rootcert {
        Some(p) => std::path::PathBuf::from(p),
        None => std::env::var_os("HOME")
            .map(std::path::PathBuf::from)
            .unwrap_or_default()
            .join(".postgresql/root.crt"),
    };
    if !path.is_file() {
        return Err(format!(
            "root certificate file \"{}\" does not exist; give one with sslrootcert=, use sslrootcert=system for the usual public roots, or choose sslmode=require to skip the check",
            path.display()
        ));
    }
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&path)
        .and_then(|it| it.collect())
        .map_err(|e| {
            format!(
                "cannot read the root certificates in {}: {e}",
                path.display()
            )
        })?;
    let (added, _) = store.add_parsable_certificates(certs);
    if added == 0 {
        return Err(format!("{} holds no usable certificate", path.display()));
    }
    Ok(store)
}

/// Accepts any certificate (libpq's `require`/`prefer`), yet checks that the server
/// holds its key: the handshake's signatures are verified as usual.
#[derive(Debug)]
struct AnyCertificate(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// The chain must verify; the name in the certificate need not match (`verify-ca`).
#[derive(Debug)]
struct AnyName(Arc<rustls::client::WebPkiServerVerifier>);

impl ServerCertVerifier for AnyName {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp, now)
        {
            Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::NotValidForName
                | rustls::CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

/// Maps a [`choose`] refusal to the error the store reports.
pub fn invalid(display: &str, why: String) -> Error {
    Error::invalid_param(format!("Invalid PostgreSQL URI '{display}': {why}"))
}
