//! Who may do what: roles, the signed-in principal, region scoping, masking of personal data and
//! API tokens. Pure rules, no I/O: the store keeps users and token hashes, `service` asks these
//! rules before every read and write, and `http` only turns their refusals into status codes.

use std::str::FromStr;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::labels::UnknownLabel;
use crate::routing::RegionPath;

/// What a user does all day, and so what they may see and change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Hotline staff 接线员: triage complaints and create cases; see cases in their region, masked.
    Operator,
    /// Supervisors 指挥中心/督办: search, reassign, export, within their region subtree.
    Supervisor,
    /// Mediators 调解员: their own queue, notes and outcomes.
    Mediator,
    /// Administrators: roster, routing rules, users; everything a supervisor may do.
    Admin,
}

impl Role {
    /// All roles.
    pub const ALL: [Role; 4] = [Role::Operator, Role::Supervisor, Role::Mediator, Role::Admin];

    /// The code stored and shown in JSON.
    pub fn code(self) -> &'static str {
        match self {
            Role::Operator => "operator",
            Role::Supervisor => "supervisor",
            Role::Mediator => "mediator",
            Role::Admin => "admin",
        }
    }

    /// The name users see.
    pub fn name(self) -> &'static str {
        match self {
            Role::Operator => "接线员",
            Role::Supervisor => "督办",
            Role::Mediator => "调解员",
            Role::Admin => "管理员",
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.code())
    }
}

impl FromStr for Role {
    type Err = UnknownLabel;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL.into_iter().find(|r| r.code() == s.trim()).ok_or_else(|| UnknownLabel { scale: "role", value: s.to_string(), expected: "operator, supervisor, mediator, admin" })
    }
}

/// Something a principal wants to do; [`Principal::may`] answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Run triage on a text.
    Triage,
    /// Store a new case.
    CreateCase,
    /// Read a case (further limited by region and, for mediators, assignment).
    ReadCase,
    /// Confirm or correct a case's labels.
    Label,
    /// Move a case through its lifecycle.
    Transition,
    /// Add a progress note.
    Note,
    /// Give a case to another mediator.
    Reassign,
    /// Search case history and read the dashboard.
    Search,
    /// Export a filtered set as CSV.
    Export,
    /// See phone and ID numbers in full (each such view is audited).
    Unmask,
    /// Read the roster and workloads.
    ReadRoster,
    /// Change the roster.
    EditRoster,
    /// Read or change routing rules.
    EditRules,
    /// Manage users and read the audit log.
    ManageUsers,
}

/// A signed-in user.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Principal {
    /// User name (recorded as the actor of every change).
    pub name: String,
    /// Role.
    pub role: Role,
    /// The region subtree the user works in; `None` means everywhere.
    pub region: Option<RegionPath>,
    /// For a mediator, their roster id.
    pub mediator_id: Option<String>,
}

impl Principal {
    /// Whether the role allows `action` at all (region and assignment are checked separately).
    pub fn may(&self, action: Action) -> bool {
        use Action::*;
        match self.role {
            Role::Admin => true,
            Role::Supervisor => !matches!(action, EditRoster | EditRules | ManageUsers),
            Role::Operator => matches!(action, Triage | CreateCase | ReadCase | Label | Note | ReadRoster),
            Role::Mediator => matches!(action, ReadCase | Transition | Note | Unmask),
        }
    }

    /// Whether a case in `region` (and assigned to `mediator`) is within this user's reach.
    /// A mediator reaches only cases assigned to them; everyone else reaches their region
    /// subtree. A case without a region is reached only by users without one.
    pub fn reaches(&self, region: Option<&str>, mediator: Option<&str>) -> bool {
        if self.role == Role::Mediator {
            return self.mediator_id.is_some() && self.mediator_id.as_deref() == mediator;
        }
        match (&self.region, region) {
            (None, _) => true,
            (Some(_), None) => false,
            (Some(scope), Some(r)) => RegionPath::parse(r).is_ok_and(|r| scope.contains(&r)),
        }
    }

    /// The region filter a search by this user must run with: the requested region if it lies
    /// inside the user's scope, the scope itself when the request names nothing or an ancestor
    /// of it, and `Err` (with the scope) when the request lies outside.
    pub fn search_region(&self, requested: Option<&str>) -> Result<Option<String>, String> {
        let requested = requested.map(str::trim).filter(|r| !r.is_empty());
        let Some(scope) = &self.region else { return Ok(requested.map(str::to_string)) };
        match requested {
            None => Ok(Some(scope.to_string())),
            Some(r) => {
                let r = RegionPath::parse(r).map_err(|e| e.to_string())?;
                if scope.contains(&r) {
                    Ok(Some(r.to_string()))
                } else if r.contains(scope) {
                    Ok(Some(scope.to_string()))
                } else {
                    Err(scope.to_string())
                }
            }
        }
    }
}

/// Length of the random part of a token, in bytes.
const TOKEN_BYTES: usize = 32;

/// A new random API token (`fq_` and 64 hex digits) from the operating system's generator.
pub fn new_token() -> Result<String, std::io::Error> {
    let mut bytes = [0u8; TOKEN_BYTES];
    getrandom::fill(&mut bytes).map_err(std::io::Error::other)?;
    Ok(format!("fq_{}", hex(&bytes)))
}

/// The form a token is stored in: SHA-256, hex. Tokens are 256 random bits, so a fast hash is
/// enough (no password stretching needed), and the store never holds a usable token.
pub fn token_hash(token: &str) -> String {
    hex(&Sha256::digest(token.trim().as_bytes()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(role: Role, region: Option<&str>, mediator: Option<&str>) -> Principal {
        Principal { name: "u".into(), role, region: region.map(|r| RegionPath::parse(r).unwrap()), mediator_id: mediator.map(str::to_string) }
    }

    const TOWN: &str = "浙江省/绍兴市/诸暨市/枫桥镇";

    #[test]
    fn a_township_supervisor_reaches_its_villages_only() {
        let s = user(Role::Supervisor, Some(TOWN), None);
        assert!(s.reaches(Some("浙江省/绍兴市/诸暨市/枫桥镇/枫源村"), None));
        assert!(s.reaches(Some(TOWN), None));
        assert!(!s.reaches(Some("浙江省/绍兴市/诸暨市/店口镇/湄池村"), None));
        assert!(!s.reaches(Some("浙江省/绍兴市/诸暨市"), None));
        assert!(!s.reaches(None, None));
        // A sibling whose name starts with the same characters is not inside.
        assert!(!s.reaches(Some("浙江省/绍兴市/诸暨市/枫桥镇二/某村"), None));
    }

    #[test]
    fn a_mediator_reaches_only_assigned_cases() {
        let m = user(Role::Mediator, Some(TOWN), Some("M03"));
        assert!(m.reaches(Some("浙江省/绍兴市/诸暨市/店口镇"), Some("M03")));
        assert!(!m.reaches(Some(TOWN), Some("M04")));
        assert!(!m.reaches(Some(TOWN), None));
        let unlinked = user(Role::Mediator, None, None);
        assert!(!unlinked.reaches(Some(TOWN), None));
    }

    #[test]
    fn search_region_is_narrowed_to_the_scope() {
        let s = user(Role::Supervisor, Some(TOWN), None);
        assert_eq!(s.search_region(None).unwrap().as_deref(), Some(TOWN));
        assert_eq!(s.search_region(Some("浙江省")).unwrap().as_deref(), Some(TOWN));
        assert_eq!(s.search_region(Some("浙江省/绍兴市/诸暨市/枫桥镇/枫源村")).unwrap().as_deref(), Some("浙江省/绍兴市/诸暨市/枫桥镇/枫源村"));
        assert!(s.search_region(Some("浙江省/绍兴市/诸暨市/店口镇")).is_err());
        let admin = user(Role::Admin, None, None);
        assert_eq!(admin.search_region(Some(" ")).unwrap(), None);
    }

    #[test]
    fn roles_allow_what_their_job_needs() {
        let check = |role: Role, allowed: &[Action], denied: &[Action]| {
            let p = user(role, None, Some("M1"));
            for a in allowed {
                assert!(p.may(*a), "{role} should be allowed {a:?}");
            }
            for a in denied {
                assert!(!p.may(*a), "{role} should not be allowed {a:?}");
            }
        };
        check(Role::Operator, &[Action::Triage, Action::CreateCase, Action::Label], &[Action::Search, Action::Export, Action::Reassign, Action::Unmask, Action::ManageUsers]);
        check(Role::Supervisor, &[Action::Search, Action::Export, Action::Reassign, Action::Unmask], &[Action::EditRoster, Action::ManageUsers, Action::EditRules]);
        check(Role::Mediator, &[Action::Transition, Action::Note, Action::ReadCase], &[Action::Search, Action::CreateCase, Action::Reassign, Action::Export]);
        check(Role::Admin, &[Action::ManageUsers, Action::EditRoster, Action::Export], &[]);
    }

    #[test]
    fn tokens_are_random_and_stored_hashed() {
        let a = new_token().unwrap();
        let b = new_token().unwrap();
        assert_ne!(a, b);
        assert!(a.starts_with("fq_") && a.len() == 3 + 64);
        assert_eq!(token_hash(&a), token_hash(&format!(" {a}\n")));
        assert_ne!(token_hash(&a), token_hash(&b));
        assert!(!token_hash(&a).contains(&a[3..]));
    }
}
