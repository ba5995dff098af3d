//! Text conversions for option values, shared by defaults, env variables and docs.

use std::fmt;
use std::net::IpAddr;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// Why text is not a value of an option (or names no option).
#[derive(Debug, thiserror::Error)]
pub enum ValueError {
    #[error("{0}")]
    Number(#[from] std::num::ParseIntError),
    #[error("{0}")]
    Address(#[from] std::net::AddrParseError),
    #[error("expected {expected}, got `{got}`")]
    Expected { expected: &'static str, got: String },
    #[error("unknown option `{0}`")]
    UnknownOption(String),
}

impl From<std::convert::Infallible> for ValueError {
    fn from(never: std::convert::Infallible) -> Self {
        match never {}
    }
}

/// A value an option can hold: parsed from env text, shown in docs and `config show`.
pub trait OptionValue: Sized {
    /// Secrets are masked in docs, `config show` and logs.
    const SECRET: bool = false;
    fn parse_text(text: &str) -> Result<Self, ValueError>;
    /// How the value is shown; secrets override this to mask themselves.
    fn show(&self) -> String;
}

macro_rules! from_str_value {
    ($($ty:ty),*) => {$(
        impl OptionValue for $ty {
            fn parse_text(text: &str) -> Result<Self, ValueError> {
                text.trim().parse::<$ty>().map_err(ValueError::from)
            }
            fn show(&self) -> String {
                self.to_string()
            }
        }
    )*};
}
from_str_value!(u16, u32, u64, usize, IpAddr, String);

impl OptionValue for bool {
    fn parse_text(text: &str) -> Result<Self, ValueError> {
        match text.trim().to_ascii_lowercase().as_str() {
            "1" | "true" | "yes" | "on" => Ok(true),
            "0" | "false" | "no" | "off" => Ok(false),
            other => Err(ValueError::Expected {
                expected: "true or false",
                got: other.to_owned(),
            }),
        }
    }
    fn show(&self) -> String {
        self.to_string()
    }
}

impl OptionValue for PathBuf {
    fn parse_text(text: &str) -> Result<Self, ValueError> {
        Ok(PathBuf::from(text))
    }
    fn show(&self) -> String {
        self.display().to_string()
    }
}

/// Empty text means "not set".
impl<T: OptionValue> OptionValue for Option<T> {
    const SECRET: bool = T::SECRET;
    fn parse_text(text: &str) -> Result<Self, ValueError> {
        if text.is_empty() {
            Ok(None)
        } else {
            T::parse_text(text).map(Some)
        }
    }
    fn show(&self) -> String {
        self.as_ref().map(T::show).unwrap_or_default()
    }
}

/// A secret string: never printed, never logged.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("\"********\"")
    }
}

impl OptionValue for Secret {
    const SECRET: bool = true;
    fn parse_text(text: &str) -> Result<Self, ValueError> {
        Ok(Secret(text.to_owned()))
    }
    fn show(&self) -> String {
        "********".to_owned()
    }
}

/// Algorithm of the issuer's signing key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum SigningAlgorithm {
    RS256,
    ES256,
}

impl OptionValue for SigningAlgorithm {
    fn parse_text(text: &str) -> Result<Self, ValueError> {
        match text.trim().to_ascii_uppercase().as_str() {
            "RS256" => Ok(Self::RS256),
            "ES256" => Ok(Self::ES256),
            other => Err(ValueError::Expected {
                expected: "RS256 or ES256",
                got: other.to_owned(),
            }),
        }
    }
    fn show(&self) -> String {
        format!("{self:?}")
    }
}

/// Where services run (`runtime.kind`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RuntimeKind {
    /// Docker, Docker Desktop or Podman's Docker-compatible API.
    Docker,
    /// A Kubernetes cluster.
    Kube,
    /// The cluster this process runs in, else a container engine.
    Auto,
}

impl OptionValue for RuntimeKind {
    fn parse_text(text: &str) -> Result<Self, ValueError> {
        match text.trim().to_ascii_lowercase().as_str() {
            "docker" => Ok(Self::Docker),
            "kube" | "kubernetes" => Ok(Self::Kube),
            "auto" => Ok(Self::Auto),
            other => Err(ValueError::Expected {
                expected: "docker, kube or auto",
                got: other.to_owned(),
            }),
        }
    }
    fn show(&self) -> String {
        format!("{self:?}").to_ascii_lowercase()
    }
}
