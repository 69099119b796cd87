//! [`Tls`] and [`Credentials`]: how the connection is secured and authenticated.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use rustls::{ClientConfig, RootCertStore};

use crate::MqttError;

/// TLS for the connection to the broker (rustls, with the `ring` provider).
///
/// ```no_run
/// use amgi_mqtt::{MqttConfig, Tls};
///
/// let config = MqttConfig::new("broker.example.com", 8883, "orders-1")
///     .tls(Tls::CaFile("/etc/ssl/broker-ca.pem".into()));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Tls {
    /// Trust the certificate authorities of the operating system.
    SystemRoots,
    /// Trust only the certificates of this PEM file (a private CA, or a self-signed broker).
    CaFile(PathBuf),
}

impl Tls {
    /// The rustls client configuration: the trusted roots, TLS 1.2 and 1.3, no client
    /// certificate. Fails as a configuration error naming the file that cannot be read or holds
    /// no certificate, or when the system has no roots.
    ///
    /// ```
    /// use amgi_mqtt::{MqttErrorKind, Tls};
    ///
    /// let error = Tls::CaFile("/no/such/ca.pem".into()).client_config().unwrap_err();
    /// assert_eq!(error.kind(), MqttErrorKind::Config);
    /// assert!(error.to_string().contains("/no/such/ca.pem"));
    /// ```
    pub fn client_config(&self) -> Result<Arc<ClientConfig>, MqttError> {
        let mut roots = RootCertStore::empty();
        match self {
            Self::SystemRoots => {
                let found = rustls_native_certs::load_native_certs();
                let (added, _) = roots.add_parsable_certificates(found.certs);
                if added == 0 {
                    return Err(MqttError::config(
                        "--tls: no certificate authority found among the system's roots; give \
                         the broker's CA with --ca-file PATH",
                    ));
                }
            }
            Self::CaFile(path) => {
                let shown = path.display();
                let certificates = CertificateDer::pem_file_iter(path)
                    .and_then(Iterator::collect::<Result<Vec<_>, _>>)
                    .map_err(|error| {
                        MqttError::config(format!("--ca-file {shown}: cannot read it ({error})"))
                    })?;
                let (added, _) = roots.add_parsable_certificates(certificates);
                if added == 0 {
                    return Err(MqttError::config(format!(
                        "--ca-file {shown}: the file holds no PEM certificate"
                    )));
                }
            }
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|error| MqttError::config(format!("TLS: {error}")))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(Arc::new(config))
    }
}

/// A username and password. `Debug` shows the username only: the password is never logged.
///
/// ```
/// let credentials = amgi_mqtt::Credentials::new("svc", "s3cret");
/// assert!(!format!("{credentials:?}").contains("s3cret"));
/// assert_eq!(credentials.username(), "svc");
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    username: String,
    password: String,
}

impl Credentials {
    /// `username` with `password`.
    pub fn new(username: impl Into<String>, password: impl Into<String>) -> Self {
        Self {
            username: username.into(),
            password: password.into(),
        }
    }

    /// The username.
    pub fn username(&self) -> &str {
        &self.username
    }

    pub(crate) fn password(&self) -> &str {
        &self.password
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ca_file_with_a_certificate_builds_a_client_config() {
        let certificate = rcgen::generate_simple_self_signed(vec!["127.0.0.1".into()]).unwrap();
        let dir = std::env::temp_dir().join(format!("amgi-mqtt-tls-unit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let ca = dir.join("ca.pem");
        std::fs::write(&ca, certificate.cert.pem()).unwrap();
        assert!(Tls::CaFile(ca.clone()).client_config().is_ok());

        std::fs::write(&ca, "not a certificate").unwrap();
        let error = Tls::CaFile(ca).client_config().unwrap_err();
        assert!(error.to_string().contains("no PEM certificate"), "{error}");
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_config_debug_never_shows_the_password() {
        let config = crate::MqttConfig::new("h", 1, "c").credentials("svc", "s3cret");
        let shown = format!("{config:?}");
        assert!(
            shown.contains("svc") && !shown.contains("s3cret"),
            "{shown}"
        );
    }
}
