//! The platform's closed vocabularies as types: how a server is hosted,
//! whether it is listed, how healthy it is, how a call ended. The server,
//! the REST API, the database rows and the pages all use these, so a kind
//! or a status is compared as a value, never as text, and the two sides
//! cannot drift. The text form (`as_str`, serde, the database columns) is
//! the same everywhere: `platform_hosted`, `healthy`, `ok`...

use serde::{Deserialize, Serialize};

/// A text that names no variant of a vocabulary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownVariant {
    pub vocabulary: &'static str,
    pub text: String,
}

impl std::fmt::Display for UnknownVariant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?} is not a {}", self.text, self.vocabulary)
    }
}

impl std::error::Error for UnknownVariant {}

/// Defines an enum whose variants have one fixed text each, with
/// `as_str`, `ALL`, `FromStr`, `TryFrom<String>` (for database rows),
/// `Display` and serde in that text.
macro_rules! vocabulary {
    ($(#[$meta:meta])* $name:ident ($what:literal) { $($(#[$vmeta:meta])* $variant:ident = $text:literal,)+ }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
        pub enum $name {
            $($(#[$vmeta])* #[serde(rename = $text)] $variant,)+
        }

        impl $name {
            /// Every variant, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The text form, as stored and sent.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)+
                }
            }
        }

        /// In the REST API's OpenAPI document: a string, one of the texts.
        #[cfg(feature = "ssr")]
        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                utoipa::openapi::schema::ObjectBuilder::new()
                    .schema_type(utoipa::openapi::schema::Type::String)
                    .enum_values(Some([$($text),+]))
                    .description(Some(concat!("A ", $what, ".")))
                    .into()
            }
        }

        #[cfg(feature = "ssr")]
        impl utoipa::ToSchema for $name {
            fn name() -> std::borrow::Cow<'static, str> {
                std::borrow::Cow::Borrowed(stringify!($name))
            }
        }

        impl std::str::FromStr for $name {
            type Err = UnknownVariant;
            fn from_str(text: &str) -> Result<Self, UnknownVariant> {
                match text {
                    $($text => Ok($name::$variant),)+
                    _ => Err(UnknownVariant { vocabulary: $what, text: text.to_string() }),
                }
            }
        }

        impl TryFrom<String> for $name {
            type Error = UnknownVariant;
            fn try_from(text: String) -> Result<Self, UnknownVariant> {
                text.parse()
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

vocabulary! {
    /// Where a server runs, and so how a call reaches it.
    HostingType ("hosting type") {
        /// A child process the platform runs (official servers, and what
        /// administrators add).
        PlatformHosted = "platform_hosted",
        /// A developer's HTTP service, called back with signed requests.
        DeveloperHosted = "developer_hosted",
        /// A remote MCP server, spoken to over Streamable HTTP.
        RemoteMcp = "remote_mcp",
        /// Tools defined as data (HTTP requests and mappings), run by the
        /// platform itself: made in the builder, no code.
        Builder = "builder",
    }
}

impl HostingType {
    /// How people read it.
    pub fn label(self) -> &'static str {
        match self {
            HostingType::PlatformHosted => "Platform-hosted",
            HostingType::DeveloperHosted => "Developer-hosted",
            HostingType::RemoteMcp => "Remote MCP",
            HostingType::Builder => "Builder",
        }
    }
}

vocabulary! {
    /// Whether a server is offered at all.
    ServerStatus ("server status") {
        Active = "active",
        /// Hidden from the marketplace; its installations cannot call it.
        Disabled = "disabled",
    }
}

vocabulary! {
    /// What the last health check found.
    HealthStatus ("health status") {
        /// Not checked yet (or nothing to check: no process running).
        Unknown = "unknown",
        Healthy = "healthy",
        Unhealthy = "unhealthy",
    }
}

impl HealthStatus {
    /// How people read it.
    pub fn label(self) -> &'static str {
        match self {
            HealthStatus::Unknown => "Not checked yet",
            HealthStatus::Healthy => "Healthy",
            HealthStatus::Unhealthy => "Unhealthy",
        }
    }
}

vocabulary! {
    /// How one logged call ended.
    CallStatus ("call status") {
        Ok = "ok",
        /// Refused, failed upstream, or the tool reported an error.
        Error = "error",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_forms_round_trip_everywhere() {
        for h in HostingType::ALL {
            assert_eq!(h.as_str().parse::<HostingType>().unwrap(), *h);
            assert_eq!(serde_json::to_value(h).unwrap(), serde_json::json!(h.as_str()));
            assert_eq!(HostingType::try_from(h.to_string()).unwrap(), *h);
        }
        assert_eq!(serde_json::from_str::<HealthStatus>("\"healthy\"").unwrap(), HealthStatus::Healthy);
        let err = "hosted".parse::<HostingType>().unwrap_err();
        assert_eq!(err.to_string(), "\"hosted\" is not a hosting type");
        assert!(serde_json::from_str::<ServerStatus>("\"gone\"").is_err());
        assert_eq!(CallStatus::Error.as_str(), "error");
    }
}
