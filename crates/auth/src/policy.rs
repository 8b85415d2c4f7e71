//! Who may do what: MLflow's permission levels, grants held through roles, and how a
//! route's requirement is decided from them. Pure functions over grant rows, so the rules
//! are tested without a database.
//!
//! - A user's grants on one resource (several roles can match) fold to `DENY` if any is a
//!   `DENY`, else to the highest level ([`fold`]).
//! - A requirement names a key (type, id) and, for sub-resources, the keys to fall back on
//!   when the caller has no grant on the key itself; the first key with any grant decides.
//! - A positive grant never counts for less than `default_permission`; no grant at all
//!   means `default_permission`.
//! - A workspace-wide `MANAGE` grant makes its holder an administrator of everything.

use ferroflow_core::{Error, Result};

/// A permission level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Permission {
    Read,
    Use,
    Edit,
    Manage,
    NoPermissions,
    Deny,
}

/// Every level, in MLflow's order (its error messages list them so).
pub const PERMISSIONS: [Permission; 6] = [
    Permission::Read,
    Permission::Use,
    Permission::Edit,
    Permission::Manage,
    Permission::NoPermissions,
    Permission::Deny,
];

impl Permission {
    pub fn name(self) -> &'static str {
        match self {
            Permission::Read => "READ",
            Permission::Use => "USE",
            Permission::Edit => "EDIT",
            Permission::Manage => "MANAGE",
            Permission::NoPermissions => "NO_PERMISSIONS",
            Permission::Deny => "DENY",
        }
    }

    pub fn parse(name: &str) -> Option<Permission> {
        PERMISSIONS.into_iter().find(|p| p.name() == name)
    }

    fn priority(self) -> i8 {
        match self {
            Permission::Deny => -1,
            Permission::NoPermissions => 0,
            Permission::Read => 1,
            Permission::Use => 2,
            Permission::Edit => 3,
            Permission::Manage => 4,
        }
    }

    fn max(self, other: Permission) -> Permission {
        if self.priority() >= other.priority() {
            self
        } else {
            other
        }
    }

    pub fn can_read(self) -> bool {
        self.priority() >= 1
    }
    pub fn can_use(self) -> bool {
        self.priority() >= 2
    }
    pub fn can_update(self) -> bool {
        self.priority() >= 3
    }
    pub fn can_delete(self) -> bool {
        self == Permission::Manage
    }
    pub fn can_manage(self) -> bool {
        self == Permission::Manage
    }

    /// Whether this level allows `action`.
    pub fn allows(self, action: Action) -> bool {
        match action {
            Action::Read => self.can_read(),
            Action::Use | Action::Create => self.can_use(),
            Action::Update => self.can_update(),
            Action::Delete => self.can_delete(),
            Action::Manage => self.can_manage(),
            Action::NotDenied => self != Permission::Deny,
        }
    }

    /// A positive grant never counts for less than the default; a veto stays a veto.
    fn floor(self, default: Permission) -> Permission {
        match self {
            Permission::Deny | Permission::NoPermissions => self,
            p => p.max(default),
        }
    }
}

/// What an operation does to a resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Read,
    Use,
    Update,
    Delete,
    Manage,
    Create,
    /// Nothing positive is needed, only the absence of a `DENY`.
    NotDenied,
}

pub const EXPERIMENT: &str = "experiment";
pub const REGISTERED_MODEL: &str = "registered_model";
pub const RUN: &str = "run";
pub const LOGGED_MODEL: &str = "logged_model";
pub const MODEL_VERSION: &str = "registered_model_version";
pub const WORKSPACE: &str = "workspace";
pub const PROMPT: &str = "prompt";

/// The resource types grants may name, sorted (as MLflow lists them), each with whether a
/// grant may name one resource or only `*`.
pub const RESOURCE_TYPES: [(&str, bool); 18] = [
    ("assessment", false),
    ("experiment", true),
    ("gateway_endpoint", true),
    ("gateway_model_definition", true),
    ("gateway_secret", true),
    ("logged_model", false),
    ("mcp_server", true),
    ("mcp_server_version", false),
    ("prompt", true),
    ("prompt_version", false),
    ("registered_model", true),
    ("registered_model_version", false),
    ("review_queue", false),
    ("run", false),
    ("scorer", true),
    ("scorer_version", false),
    ("trace", false),
    ("workspace", false),
];

/// One grant: a level on a resource (`*` for every resource of the type).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    pub resource_type: String,
    pub pattern: String,
    pub permission: String,
}

impl Grant {
    pub fn new(t: &str, pattern: &str, permission: Permission) -> Grant {
        Grant {
            resource_type: t.into(),
            pattern: pattern.into(),
            permission: permission.name().into(),
        }
    }

    fn matches(&self, t: &str, id: &str) -> bool {
        self.resource_type == t && (self.pattern == "*" || (per_resource(t) && self.pattern == id))
    }

    /// A workspace-wide `MANAGE`: its holder administers everything in the workspace.
    pub fn is_workspace_admin(&self) -> bool {
        self.resource_type == WORKSPACE && self.pattern == "*" && self.permission == "MANAGE"
    }
}

fn per_resource(t: &str) -> bool {
    RESOURCE_TYPES.iter().any(|(n, per)| *n == t && *per)
}

/// The grants on one key folded: `DENY` if any denies, else the highest; `None` when no
/// grant names the key.
pub fn fold(grants: &[Grant], t: &str, id: &str) -> Option<Permission> {
    let mut best: Option<Permission> = None;
    for g in grants.iter().filter(|g| g.matches(t, id)) {
        let Some(p) = Permission::parse(&g.permission) else {
            continue;
        };
        if p == Permission::Deny {
            return Some(Permission::Deny);
        }
        best = Some(best.map_or(p, |b| b.max(p)));
    }
    best
}

/// What an operation requires: `action` on a key, or, when the caller holds no grant on
/// that key, on each fallback key in turn (a sub-resource falls back on its container).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requirement {
    pub resource_type: &'static str,
    pub resource_id: String,
    pub action: Action,
    /// Keys consulted in order; each with the action it must allow.
    pub fallback: Vec<(&'static str, String, Action)>,
}

impl Requirement {
    pub fn on(resource_type: &'static str, resource_id: impl Into<String>, action: Action) -> Self {
        Requirement {
            resource_type,
            resource_id: resource_id.into(),
            action,
            fallback: Vec::new(),
        }
    }

    /// The requirement falls back on `action` over `(t, id)` when its own key has no grant.
    pub fn or_else(mut self, t: &'static str, id: impl Into<String>, action: Action) -> Self {
        self.fallback.push((t, id.into(), action));
        self
    }

    /// The permission that governs this requirement and the action it must allow.
    pub fn governing(&self, grants: &[Grant], default: Permission) -> (Permission, Action) {
        if grants.iter().any(Grant::is_workspace_admin) {
            return (Permission::Manage, self.action);
        }
        let rungs = std::iter::once((self.resource_type, self.resource_id.as_str(), self.action))
            .chain(self.fallback.iter().map(|(t, id, a)| (*t, id.as_str(), *a)));
        let mut last = self.action;
        for (t, id, action) in rungs {
            last = action;
            if let Some(p) = fold(grants, t, id) {
                return (p.floor(default), action);
            }
        }
        (default, last)
    }

    pub fn allowed(&self, grants: &[Grant], default: Permission) -> bool {
        let (p, action) = self.governing(grants, default);
        p.allows(action)
    }
}

/// The permission `grants` give on one resource, as `get_user_permission` reports it.
pub fn effective(grants: &[Grant], t: &'static str, id: &str, default: Permission) -> Permission {
    Requirement::on(t, id, Action::Read)
        .governing(grants, default)
        .0
}

// ---- validation of grant requests, with MLflow's messages ----

pub fn parse_permission(name: &str) -> Result<Permission> {
    Permission::parse(name).ok_or_else(|| {
        let all: Vec<String> = PERMISSIONS
            .iter()
            .map(|p| format!("'{}'", p.name()))
            .collect();
        Error::invalid_param(format!(
            "Invalid permission '{name}'. Valid permissions are: ({})",
            all.join(", ")
        ))
    })
}

pub fn check_resource_type(t: &str) -> Result<&'static str> {
    RESOURCE_TYPES
        .iter()
        .find(|(n, _)| *n == t)
        .map(|(n, _)| *n)
        .ok_or_else(|| {
            let all: Vec<String> = RESOURCE_TYPES
                .iter()
                .map(|(n, _)| format!("'{n}'"))
                .collect();
            Error::invalid_param(format!(
                "Invalid resource type '{t}'. Valid resource types are: ({})",
                all.join(", ")
            ))
        })
}

/// The per-user grant routes do not take workspace-wide grants.
pub fn reject_workspace_type(t: &str) -> Result<()> {
    if t == WORKSPACE {
        return Err(Error::invalid_param(
            "resource_type 'workspace' is not supported by the per-user permission convenience APIs. Use set_workspace_permission / delete_workspace_permission for workspace-wide grants.",
        ));
    }
    Ok(())
}

/// A grant's pattern: `*`, or one resource for the types that allow it.
pub fn check_pattern(pattern: &str, t: &str) -> Result<()> {
    check_resource_type(t)?;
    if pattern != "*" && !per_resource(t) {
        return Err(Error::invalid_param(format!(
            "Invalid resource_pattern '{pattern}' for resource_type='{t}'. This resource type supports only wildcard ('*') grants."
        )));
    }
    Ok(())
}

/// Which levels may be granted on a type: `USE`/`MANAGE` workspace-wide, any but
/// `NO_PERMISSIONS` on a resource.
pub fn check_grantable(permission: &str, t: &str) -> Result<Permission> {
    let p = parse_permission(permission)?;
    check_resource_type(t)?;
    if t == WORKSPACE {
        if !matches!(p, Permission::Use | Permission::Manage) {
            return Err(Error::invalid_param(format!(
                "Invalid permission '{permission}' for resource_type='workspace'. Workspace-wide grants accept only: ('MANAGE', 'USE')."
            )));
        }
    } else if p == Permission::NoPermissions {
        return Err(Error::invalid_param(format!(
            "Invalid permission '{permission}' for resource_type='{t}'. Resource-level grants accept only: ('DENY', 'EDIT', 'MANAGE', 'READ', 'USE')."
        )));
    }
    Ok(p)
}

#[cfg(test)]
mod tests {
    use super::Permission::*;
    use super::*;

    fn g(t: &str, p: &str, perm: Permission) -> Grant {
        Grant::new(t, p, perm)
    }

    #[test]
    fn no_grant_means_default() {
        let r = Requirement::on(EXPERIMENT, "1", Action::Read);
        assert!(r.allowed(&[], Read));
        assert!(!Requirement::on(EXPERIMENT, "1", Action::Update).allowed(&[], Read));
        assert!(!r.allowed(&[], NoPermissions));
    }

    #[test]
    fn deny_wins_within_a_key_and_is_not_rescued() {
        let grants = [g(EXPERIMENT, "1", Manage), g(EXPERIMENT, "*", Deny)];
        assert_eq!(fold(&grants, EXPERIMENT, "1"), Some(Deny));
        assert!(!Requirement::on(EXPERIMENT, "1", Action::Read).allowed(&grants, Manage));
        assert_eq!(fold(&grants, EXPERIMENT, "2"), Some(Deny));
    }

    #[test]
    fn highest_grant_floored_by_default() {
        let grants = [g(EXPERIMENT, "1", Read), g(EXPERIMENT, "1", Edit)];
        assert_eq!(effective(&grants, EXPERIMENT, "1", Read), Edit);
        assert_eq!(
            effective(&[g(EXPERIMENT, "1", Read)], EXPERIMENT, "1", Edit),
            Edit
        );
        assert_eq!(effective(&[], EXPERIMENT, "1", Use), Use);
    }

    #[test]
    fn sub_resources_fall_back_on_their_container() {
        let req =
            Requirement::on(RUN, "*", Action::Update).or_else(EXPERIMENT, "7", Action::Update);
        assert!(req.allowed(&[g(EXPERIMENT, "7", Edit)], Read));
        assert!(!req.allowed(&[g(EXPERIMENT, "7", Read)], Read));
        // A grant on the run tier decides before the experiment's.
        assert!(!req.allowed(&[g(RUN, "*", Read), g(EXPERIMENT, "7", Manage)], Read));
        // Per-id grants do not exist for runs: a grant naming one is ignored.
        assert!(!req.allowed(&[g(RUN, "abc", Manage)], Read));
    }

    #[test]
    fn workspace_manage_is_admin() {
        let grants = [g(WORKSPACE, "*", Manage), g(EXPERIMENT, "1", Deny)];
        assert!(Requirement::on(EXPERIMENT, "1", Action::Delete).allowed(&grants, Read));
    }

    #[test]
    fn create_is_refused_only_by_deny() {
        let req = Requirement::on(EXPERIMENT, "*", Action::NotDenied);
        assert!(req.allowed(&[], NoPermissions));
        assert!(!req.allowed(&[g(EXPERIMENT, "*", Deny)], Manage));
    }

    #[test]
    fn validation_messages() {
        assert!(parse_permission("SUPER").unwrap_err().message.starts_with(
            "Invalid permission 'SUPER'. Valid permissions are: ('READ', 'USE', 'EDIT', 'MANAGE', 'NO_PERMISSIONS', 'DENY')"
        ));
        assert!(
            check_resource_type("thing")
                .unwrap_err()
                .message
                .contains("('assessment', 'experiment'")
        );
        assert!(check_pattern("abc", RUN).is_err());
        assert!(check_pattern("*", RUN).is_ok());
        assert!(check_grantable("NO_PERMISSIONS", EXPERIMENT).is_err());
        assert!(check_grantable("READ", WORKSPACE).is_err());
        assert_eq!(check_grantable("DENY", EXPERIMENT).unwrap(), Deny);
    }
}
