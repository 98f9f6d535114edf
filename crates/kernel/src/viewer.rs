//! Who is asking: the tenant and user from a verified token and whether they are an admin. Every
//! domain scopes its queries by it (owners see their own rows; admins see their tenant's).

use crate::ids::{TenantId, UserId};

/// The caller as every domain sees it. Built only from a verified token, never from a body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Viewer {
    pub tenant: TenantId,
    pub user: UserId,
    pub admin: bool,
}

impl Viewer {
    /// A non-admin viewer acting as `user` of `tenant` (background work done on a user's behalf).
    pub const fn owner(tenant: TenantId, user: UserId) -> Self {
        Self {
            tenant,
            user,
            admin: false,
        }
    }

    /// Whether this viewer may act on a row of `tenant` owned by `owner` (own rows; admins: any
    /// row of their tenant).
    pub fn may_access(&self, tenant: TenantId, owner: UserId) -> bool {
        self.tenant == tenant && (self.admin || self.user == owner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owners_see_their_own_rows_and_admins_their_tenant() {
        let (t, other_t) = (TenantId::new_random(), TenantId::new_random());
        let (u, v) = (UserId::new_random(), UserId::new_random());
        let me = Viewer::owner(t, u);
        assert!(me.may_access(t, u));
        assert!(!me.may_access(t, v));
        assert!(!me.may_access(other_t, u));
        let admin = Viewer { admin: true, ..me };
        assert!(admin.may_access(t, v));
        assert!(!admin.may_access(other_t, v));
    }
}
