//! The project model, its enumerations, the validated requests (parse, don't validate) and the
//! read rule.

use crate::errors::ProjectError;
use ingenio_kernel::chrono::{DateTime, Utc};
use ingenio_kernel::string_enum;
pub use ingenio_kernel::AgeGroup;
use ingenio_kernel::{AppSpecId, CodeId, ProjectId, TenantId, UserId, Viewer};
use serde::{Deserialize, Serialize};

string_enum!(
    /// `draft → published → (draft | archived)`; see [`crate::service`] for the moves.
    ProjectStatus { Draft => "draft", Published => "published", Archived => "archived" }
);
string_enum!(
    /// Who may read a project (SPEC §4): `private` only the owner, `public` and `unlisted` anyone
    /// with the id; only `public` + `published` projects are listed in the gallery.
    Visibility { Private => "private", Public => "public", Unlisted => "unlisted" }
);
string_enum!(
    /// Gallery orders; every one ends with the id as a stable tie-break.
    GallerySort {
        Latest => "latest",
        Popular => "popular",
        MostForked => "mostForked",
        MostViewed => "mostViewed",
    }
);

/// A project as stored, with its spec's latest render (for a live preview link).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Project {
    pub id: ProjectId,
    pub tenant_id: TenantId,
    pub owner: UserId,
    pub name: String,
    pub description: Option<String>,
    pub cover_image_url: Option<String>,
    pub app_spec_id: Option<AppSpecId>,
    pub status: ProjectStatus,
    pub visibility: Visibility,
    pub view_count: i64,
    pub like_count: i64,
    pub fork_count: i64,
    pub comment_count: i64,
    pub tags: Vec<String>,
    pub age_group: Option<AgeGroup>,
    pub published_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Set by moderation: hidden from the gallery and from everyone but the owner and admins.
    pub hidden_at: Option<DateTime<Utc>>,
    /// The spec's latest rendered code record and its preview URL.
    pub code_id: Option<CodeId>,
    pub preview_url: Option<String>,
}

/// The fields of a project that change without its owner (counters, moderation, the latest
/// render): refreshed on every cached listing so they lag by seconds, not by the cache TTL.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LiveFields {
    pub id: ProjectId,
    pub view_count: i64,
    pub like_count: i64,
    pub fork_count: i64,
    pub comment_count: i64,
    pub hidden_at: Option<DateTime<Utc>>,
    pub code_id: Option<CodeId>,
    pub preview_url: Option<String>,
}

impl Project {
    /// Applies freshly read live fields.
    pub fn refresh(&mut self, live: &LiveFields) {
        self.view_count = live.view_count;
        self.like_count = live.like_count;
        self.fork_count = live.fork_count;
        self.comment_count = live.comment_count;
        self.hidden_at = live.hidden_at;
        self.code_id = live.code_id;
        self.preview_url = live.preview_url.clone();
    }

    /// Whether `viewer` owns the project (or administers its tenant).
    pub fn is_managed_by(&self, viewer: &Viewer) -> bool {
        viewer.may_access(self.tenant_id, self.owner)
    }

    /// The read rule (SPEC §4): the owner always; an admin of the tenant always; anyone else
    /// (signed in or anonymous, same tenant) when the project is `public` or `unlisted` and not
    /// hidden by moderation. Callers answer "not found" otherwise, never "forbidden".
    pub fn readable_by(&self, viewer: Option<&Viewer>, anonymous_tenant: TenantId) -> bool {
        if let Some(v) = viewer {
            if self.is_managed_by(v) {
                return true;
            }
        }
        let tenant = viewer.map_or(anonymous_tenant, |v| v.tenant);
        tenant == self.tenant_id
            && self.hidden_at.is_none()
            && matches!(self.visibility, Visibility::Public | Visibility::Unlisted)
    }

    /// Whether the project may appear in a listing seen by `viewer` (forks, lineage): readable,
    /// and `public` unless the viewer manages it — an unlisted id is not handed out.
    pub fn listable_by(&self, viewer: Option<&Viewer>, anonymous_tenant: TenantId) -> bool {
        match viewer {
            Some(v) if self.is_managed_by(v) => true,
            _ => {
                self.visibility == Visibility::Public && self.readable_by(viewer, anonymous_tenant)
            }
        }
    }
}

/// Limits of the validated fields.
pub const MAX_NAME_CHARS: usize = 200;
pub const MAX_DESCRIPTION_CHARS: usize = 5000;
pub const MAX_TAGS: usize = 10;
pub const MAX_TAG_CHARS: usize = 50;
pub const MAX_URL_CHARS: usize = 500;
pub const MAX_QUERY_CHARS: usize = 100;

/// A project name: trimmed, 1–200 characters.
pub fn parse_name(raw: &str) -> Result<String, ProjectError> {
    let name = raw.trim();
    let n = name.chars().count();
    if n == 0 {
        return Err(ProjectError::invalid("name", "must not be blank"));
    }
    if n > MAX_NAME_CHARS {
        return Err(ProjectError::invalid(
            "name",
            format!("must be at most {MAX_NAME_CHARS} characters"),
        ));
    }
    Ok(name.to_owned())
}

/// A description: trimmed, at most 5000 characters; blank means none.
pub fn parse_description(raw: &str) -> Result<Option<String>, ProjectError> {
    let d = raw.trim();
    if d.chars().count() > MAX_DESCRIPTION_CHARS {
        return Err(ProjectError::invalid(
            "description",
            format!("must be at most {MAX_DESCRIPTION_CHARS} characters"),
        ));
    }
    Ok((!d.is_empty()).then(|| d.to_owned()))
}

/// A cover image URL: `http(s)://…`, at most 500 characters; blank means none.
pub fn parse_cover_url(raw: &str) -> Result<Option<String>, ProjectError> {
    let u = raw.trim();
    if u.is_empty() {
        return Ok(None);
    }
    let lower = u.get(..8).unwrap_or(u).to_ascii_lowercase();
    if !(lower.starts_with("https://") || lower.starts_with("http://")) {
        return Err(ProjectError::invalid(
            "coverImageUrl",
            "must be an http(s) URL",
        ));
    }
    if u.chars().count() > MAX_URL_CHARS || u.chars().any(char::is_whitespace) {
        return Err(ProjectError::invalid(
            "coverImageUrl",
            format!("must be a URL of at most {MAX_URL_CHARS} characters without spaces"),
        ));
    }
    Ok(Some(u.to_owned()))
}

/// Tags: each trimmed, 1–50 characters; duplicates dropped (first kept); at most 10.
pub fn parse_tags(raw: &[String]) -> Result<Vec<String>, ProjectError> {
    let mut tags: Vec<String> = Vec::new();
    for t in raw {
        let t = t.trim();
        let n = t.chars().count();
        if n == 0 || n > MAX_TAG_CHARS {
            return Err(ProjectError::invalid(
                "tags",
                format!("each tag must be 1–{MAX_TAG_CHARS} characters"),
            ));
        }
        if !tags.iter().any(|x| x == t) {
            tags.push(t.to_owned());
        }
    }
    if tags.len() > MAX_TAGS {
        return Err(ProjectError::invalid(
            "tags",
            format!("at most {MAX_TAGS} tags"),
        ));
    }
    Ok(tags)
}

/// A search text (`keyword`, `q`): trimmed, at most 100 characters; blank means no filter.
pub fn parse_search(field: &str, raw: Option<&str>) -> Result<Option<String>, ProjectError> {
    let Some(q) = raw.map(str::trim).filter(|q| !q.is_empty()) else {
        return Ok(None);
    };
    if q.chars().count() > MAX_QUERY_CHARS {
        return Err(ProjectError::invalid(
            field,
            format!("must be at most {MAX_QUERY_CHARS} characters"),
        ));
    }
    Ok(Some(q.to_owned()))
}

/// `%text%` for `ILIKE` with `\`, `%` and `_` escaped, so they match themselves.
pub fn like_pattern(text: &str) -> String {
    let mut p = String::with_capacity(text.len() + 2);
    p.push('%');
    for ch in text.chars() {
        if matches!(ch, '\\' | '%' | '_') {
            p.push('\\');
        }
        p.push(ch);
    }
    p.push('%');
    p
}

/// A project to create (validated).
#[derive(Debug, Clone, PartialEq)]
pub struct NewProject {
    pub name: String,
    pub description: Option<String>,
    pub cover_image_url: Option<String>,
    /// Must be one of the owner's specs.
    pub app_spec_id: Option<AppSpecId>,
    pub visibility: Visibility,
    pub tags: Vec<String>,
    pub age_group: Option<AgeGroup>,
}

/// A change to a project (validated); `None` keeps a field, `Some(None)` clears an optional one.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProjectUpdate {
    pub name: Option<String>,
    pub description: Option<Option<String>>,
    pub cover_image_url: Option<Option<String>>,
    pub visibility: Option<Visibility>,
    pub tags: Option<Vec<String>>,
    pub age_group: Option<Option<AgeGroup>>,
}

impl ProjectUpdate {
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

/// The filters of "my projects".
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize)]
pub struct MyProjectsQuery {
    pub status: Option<ProjectStatus>,
    /// Substring of the name or description (case-insensitive).
    pub keyword: Option<String>,
}

/// The filters of the public gallery.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct GalleryQuery {
    /// Substring of the name or description (case-insensitive; finds Chinese text too).
    pub q: Option<String>,
    /// Projects carrying any of these tags.
    pub tags: Vec<String>,
    pub age_group: Option<AgeGroup>,
    pub sort: GallerySort,
}

/// Counts of the caller's projects (`GET /v1/projects/stats`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProjectStats {
    pub total: i64,
    pub draft: i64,
    pub published: i64,
    pub archived: i64,
    pub public: i64,
    pub private: i64,
    pub unlisted: i64,
    pub views: i64,
    pub likes: i64,
    pub forks: i64,
    pub comments: i64,
}

/// A fork request (validated).
#[derive(Debug, Clone, PartialEq)]
pub struct ForkRequest {
    /// The fork's description (the source's when absent).
    pub description: Option<String>,
    /// What the forker means to change, kept with the fork (user-authored content).
    pub customizations: serde_json::Value,
}

/// The largest `customizations` object a fork may carry, in bytes of JSON.
pub const MAX_CUSTOMIZATIONS_BYTES: usize = 16 * 1024;

/// What version 1 of a forked spec records about where it came from (`generation_metadata`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ForkMetadata {
    pub source_project_id: ProjectId,
    pub source_spec_id: AppSpecId,
    pub source_version: i32,
    pub forked_by: UserId,
}

/// A project for unit tests.
#[cfg(test)]
pub(crate) fn test_project(tenant: TenantId, owner: UserId, visibility: Visibility) -> Project {
    let now = ingenio_kernel::chrono::Utc::now();
    Project {
        id: ProjectId::new_random(),
        tenant_id: tenant,
        owner,
        name: "p".into(),
        description: None,
        cover_image_url: None,
        app_spec_id: None,
        status: ProjectStatus::Published,
        visibility,
        view_count: 0,
        like_count: 0,
        fork_count: 0,
        comment_count: 0,
        tags: vec![],
        age_group: None,
        published_at: None,
        created_at: now,
        updated_at: now,
        hidden_at: None,
        code_id: None,
        preview_url: None,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use ingenio_kernel::chrono::Utc;
    use proptest::prelude::*;

    #[test]
    fn read_rule() {
        let t = TenantId::default();
        let (owner, other) = (UserId::new_random(), UserId::new_random());
        let me = Viewer::owner(t, owner);
        let them = Viewer::owner(t, other);
        let admin = Viewer {
            admin: true,
            ..them
        };
        for vis in Visibility::ALL {
            let p = test_project(t, owner, *vis);
            assert!(p.readable_by(Some(&me), t), "owner reads {vis}");
            assert!(p.readable_by(Some(&admin), t), "admin reads {vis}");
            let open = *vis != Visibility::Private;
            assert_eq!(p.readable_by(Some(&them), t), open, "other reads {vis}");
            assert_eq!(p.readable_by(None, t), open, "anonymous reads {vis}");
            assert_eq!(
                p.listable_by(Some(&them), t),
                *vis == Visibility::Public,
                "other lists {vis}"
            );
            assert!(p.listable_by(Some(&me), t));
            let mut hidden = p.clone();
            hidden.hidden_at = Some(Utc::now());
            assert!(hidden.readable_by(Some(&me), t));
            assert!(hidden.readable_by(Some(&admin), t));
            assert!(!hidden.readable_by(Some(&them), t));
            assert!(!hidden.readable_by(None, t));
        }
        // another tenant never reads, even public, even as its admin
        let p = test_project(t, owner, Visibility::Public);
        let foreign = Viewer {
            tenant: TenantId::new_random(),
            user: other,
            admin: true,
        };
        assert!(!p.readable_by(Some(&foreign), t));
        assert!(!p.readable_by(None, TenantId::new_random()));
    }

    #[test]
    fn enums_round_trip() {
        for s in GallerySort::ALL {
            assert_eq!(GallerySort::parse(s.as_str()), Some(*s));
            assert_eq!(
                serde_json::to_value(s).unwrap(),
                serde_json::Value::String(s.as_str().into())
            );
        }
        assert_eq!(
            AgeGroup::parse("middle_school"),
            Some(AgeGroup::MiddleSchool)
        );
        assert_eq!(ProjectStatus::parse("Draft"), None);
    }

    #[test]
    fn field_rules() {
        assert_eq!(parse_name("  背单词小游戏 ").unwrap(), "背单词小游戏");
        assert!(parse_name("   ").is_err());
        assert!(parse_name(&"名".repeat(200)).is_ok());
        assert!(parse_name(&"名".repeat(201)).is_err());
        assert_eq!(parse_description("  ").unwrap(), None);
        assert!(parse_cover_url("javascript:alert(1)").is_err());
        assert_eq!(
            parse_cover_url("https://x.test/a.png").unwrap().as_deref(),
            Some("https://x.test/a.png")
        );
        assert_eq!(
            parse_tags(&["游戏".into(), " 游戏".into(), "math".into()]).unwrap(),
            vec!["游戏".to_owned(), "math".to_owned()]
        );
        assert!(parse_tags(&[String::new()]).is_err());
        let many: Vec<String> = (0..11).map(|i| format!("t{i}")).collect();
        assert!(parse_tags(&many).is_err());
        assert_eq!(parse_search("q", Some("  ")).unwrap(), None);
        assert_eq!(like_pattern("50%_a\\b"), "%50\\%\\_a\\\\b%");
        assert_eq!(like_pattern("单词"), "%单词%");
    }

    proptest! {
        #[test]
        fn names_and_patterns_never_panic_on_unicode(s in "\\PC{0,300}") {
            if let Ok(n) = parse_name(&s) {
                prop_assert!(!n.is_empty() && n.chars().count() <= MAX_NAME_CHARS);
                prop_assert_eq!(n.as_str(), s.trim());
            }
            let p = like_pattern(&s);
            prop_assert!(p.starts_with('%') && p.ends_with('%'));
            // every wildcard in the middle is escaped
            let inner: Vec<char> = p.chars().collect();
            let inner = &inner[1..inner.len() - 1];
            let mut i = 0;
            while i < inner.len() {
                if inner[i] == '\\' { i += 2; continue; }
                prop_assert!(inner[i] != '%' && inner[i] != '_');
                i += 1;
            }
            if let Ok(Some(q)) = parse_search("q", Some(&s)) {
                prop_assert!(q.chars().count() <= MAX_QUERY_CHARS);
            }
        }
    }
}
