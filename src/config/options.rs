//! Declares every option once: field, type, default, doc. Env names derive from the key.

/// One option as documented in `serve --help`, `config docs` and docs/CONFIG.md.
#[derive(Debug, Clone)]
pub struct OptionDoc {
    /// Dotted key as written in the TOML file, e.g. `oidc.password_grant`.
    pub key: String,
    pub doc: String,
    pub default: &'static str,
    pub secret: bool,
}

impl OptionDoc {
    /// `oidc.password_grant` → `ONYXIA_LITE_OIDC_PASSWORD_GRANT`.
    pub fn env_name(&self) -> String {
        env_name(&self.key)
    }
}

pub(crate) fn env_name(key: &str) -> String {
    format!("ONYXIA_LITE_{}", key.replace('.', "_").to_ascii_uppercase())
}

/// Generates a config section: the struct (serde, unknown keys rejected), its defaults, its
/// option table, and setting/showing values by dotted key.
macro_rules! config_section {
    (
        $(#[$smeta:meta])*
        pub struct $name:ident {
            $( $(#[doc = $doc:literal])* $field:ident : $ty:ty = $default:literal, )*
        }
        $( sections { $( $sec:ident : $sty:ty ),* $(,)? } )?
    ) => {
        $(#[$smeta])*
        #[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
        #[serde(deny_unknown_fields, default)]
        pub struct $name {
            $( $(#[doc = $doc])* pub $field: $ty, )*
            $($( pub $sec: $sty, )*)?
        }

        impl Default for $name {
            fn default() -> Self {
                Self {
                    $( $field: <$ty as $crate::config::value::OptionValue>::parse_text($default)
                        .expect(concat!("built-in default of ", stringify!($field))), )*
                    $($( $sec: <$sty>::default(), )*)?
                }
            }
        }

        impl $name {
            /// Every option of this section (and its subsections), keys prefixed by `prefix`.
            pub fn options(prefix: &str) -> Vec<$crate::config::options::OptionDoc> {
                #[allow(unused_mut)]
                let mut all = vec![$(
                    $crate::config::options::OptionDoc {
                        key: format!("{prefix}{}", stringify!($field)),
                        doc: [$($doc),*].iter().map(|l| l.trim()).collect::<Vec<_>>().join(" "),
                        default: $default,
                        secret: <$ty as $crate::config::value::OptionValue>::SECRET,
                    },
                )*];
                $($( all.extend(<$sty>::options(&format!("{prefix}{}.", stringify!($sec)))); )*)?
                all
            }

            /// Sets the option `key` (relative to this section) from text.
            /// `None` when no such option exists.
            pub fn set_text(
                &mut self,
                key: &str,
                text: &str,
            ) -> Option<Result<(), $crate::config::value::ValueError>> {
                match key {
                    $( stringify!($field) => Some(
                        <$ty as $crate::config::value::OptionValue>::parse_text(text)
                            .map(|v| self.$field = v),
                    ), )*
                    _ => {
                        $($( if let Some(rest) = key.strip_prefix(concat!(stringify!($sec), ".")) {
                            return self.$sec.set_text(rest, text);
                        } )*)?
                        None
                    }
                }
            }

            /// Current values as (key, shown text); secrets are masked.
            pub fn shown_values(&self, prefix: &str) -> Vec<(String, String)> {
                #[allow(unused_mut)]
                let mut all = vec![$(
                    (format!("{prefix}{}", stringify!($field)),
                     $crate::config::value::OptionValue::show(&self.$field)),
                )*];
                $($( all.extend(self.$sec.shown_values(&format!("{prefix}{}.", stringify!($sec)))); )*)?
                all
            }
        }
    };
}

pub(crate) use config_section;
