//! Typed identifiers so a user id can never be passed where a tenant id is expected.

use serde::{Deserialize, Serialize};
use std::fmt;
use uuid::Uuid;

/// The single default tenant used unless another one is configured.
pub const DEFAULT_TENANT_ID: Uuid = Uuid::from_u128(0x0000_0000_0000_0000_0000_0000_0000_0001);

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(Uuid);

        impl $name {
            /// Wraps an existing uuid.
            pub const fn from_uuid(id: Uuid) -> Self {
                Self(id)
            }
            /// A fresh random id.
            pub fn new_random() -> Self {
                Self(Uuid::new_v4())
            }
            /// The underlying uuid.
            pub const fn as_uuid(&self) -> Uuid {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl From<Uuid> for $name {
            fn from(id: Uuid) -> Self {
                Self(id)
            }
        }
    };
}

id_type!(
    /// Identifies a tenant; always taken from a verified token, never from a request body.
    TenantId
);
id_type!(
    /// Identifies a user account.
    UserId
);

id_type!(
    /// Identifies an app spec (shared by app-specs, code-gen and projects).
    AppSpecId
);
id_type!(
    /// Identifies a generation job.
    JobId
);
id_type!(
    /// Identifies a project (shared by projects and social).
    ProjectId
);
id_type!(
    /// Identifies a `generated_code` record (one rendered artifact).
    CodeId
);

impl Default for TenantId {
    fn default() -> Self {
        Self(DEFAULT_TENANT_ID)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_tenant_is_the_documented_uuid() {
        assert_eq!(
            TenantId::default().to_string(),
            "00000000-0000-0000-0000-000000000001"
        );
    }
}
