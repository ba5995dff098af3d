//! Names of services: release names as Helm allows them, and the URL each service gets.

use super::LabError;

/// Release names: a DNS label-like name, as Helm requires.
const MAX_RELEASE_LEN: usize = 53;

/// How service URLs are built: `http://<release>.<domain>:<port>/`.
#[derive(Debug, Clone)]
pub struct Exposure {
    pub domain: String,
    pub port: u16,
    pub scheme: String,
}

impl Exposure {
    pub fn url(&self, release: &str) -> String {
        let default_port = if self.scheme == "https" { 443 } else { 80 };
        if self.port == default_port {
            format!("{}://{release}.{}/", self.scheme, self.domain)
        } else {
            format!("{}://{release}.{}:{}/", self.scheme, self.domain, self.port)
        }
    }
}

/// Whether a name is an RFC 1123 label: what Kubernetes namespaces (and so onyxia's project
/// ids) and release names must be.
pub fn is_label(name: &str) -> bool {
    crate::runtime::kube::names::is_dns_label(name)
}

/// Helm's rule for release names (a label, at most 53 characters). Helm also allows dots;
/// the proxy routes by the first label of the host, so none here.
pub fn check_release_name(name: &str) -> Result<(), LabError> {
    if name.len() > MAX_RELEASE_LEN || !is_label(name) {
        return Err(LabError::BadRequest(format!(
            "invalid release name `{name}`: use lowercase letters, digits and '-', starting and ending with a letter or digit, at most {MAX_RELEASE_LEN} characters"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn release_names_follow_helm() {
        assert!(check_release_name("jupyter-python-482913").is_ok());
        for bad in ["", "Jupyter", "-a", "a-", "a_b", "a.b", &"a".repeat(54)] {
            assert!(check_release_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn service_urls_omit_default_ports() {
        let e = Exposure {
            domain: "localhost".into(),
            port: 8080,
            scheme: "http".into(),
        };
        assert_eq!(e.url("tiny-1"), "http://tiny-1.localhost:8080/");
        let e = Exposure {
            domain: "lab.example.org".into(),
            port: 443,
            scheme: "https".into(),
        };
        assert_eq!(e.url("tiny-1"), "https://tiny-1.lab.example.org/");
    }
}
