//! Validated models of the social domain: enumerations stored as strings, magic prompts and the
//! drafts admins write, comments, reports and their resolution, and the viewer key of a view.

use crate::errors::SocialError;
use crate::template::Template;
use ingenio_kernel::chrono::{DateTime, Utc};
use ingenio_kernel::string_enum;
use ingenio_kernel::uuid::Uuid;
pub use ingenio_kernel::AgeGroup;
use ingenio_kernel::{ProjectId, TenantId, UserId};
use serde::Deserialize;
use std::collections::BTreeMap;

string_enum!(
    /// What kind of app a magic prompt starts.
    Category { Education => "education", Game => "game", Productivity => "productivity", Creative => "creative", Social => "social" }
);
string_enum!(
    /// How hard a magic prompt's app is.
    Difficulty { Beginner => "beginner", Intermediate => "intermediate", Advanced => "advanced" }
);
string_enum!(
    /// Only `active` prompts are listed to everyone; `draft` and `archived` only to admins.
    PromptStatus { Active => "active", Draft => "draft", Archived => "archived" }
);
string_enum!(
    /// The idempotent reactions (one per user and project).
    ReactionKind { Like => "like", Favorite => "favorite" }
);
string_enum!(
    /// What a report is about.
    TargetKind { Project => "project", Comment => "comment" }
);
string_enum!(
    /// `open` until an admin resolves it.
    ReportStatus { Open => "open", Resolved => "resolved" }
);
string_enum!(
    /// An admin's decision on a reported item: keep it hidden, show it again, or delete it.
    ModerationAction { Hide => "hide", Restore => "restore", Delete => "delete" }
);
string_enum!(
    /// Listing order of magic prompts.
    PromptSort { Popular => "popular", Latest => "latest", Title => "title" }
);

/// Longest magic prompt title, in characters.
pub const MAX_TITLE_CHARS: usize = 200;
/// Longest magic prompt template, in characters (a filled template must still be a valid
/// generation requirement, at most 5000 characters).
pub const MAX_TEMPLATE_CHARS: usize = 5000;
/// Longest description, in characters.
pub const MAX_DESCRIPTION_CHARS: usize = 2000;
/// Tags per prompt, and the longest tag (the column is `VARCHAR(50)[]`).
pub const MAX_TAGS: usize = 20;
pub const MAX_TAG_CHARS: usize = 50;
/// Longest report reason and admin note, in characters.
pub const MAX_REASON_CHARS: usize = 500;

/// A stored magic prompt.
#[derive(Debug, Clone, PartialEq)]
pub struct MagicPrompt {
    pub id: Uuid,
    pub tenant_id: TenantId,
    pub title: String,
    pub description: Option<String>,
    pub cover_image_url: Option<String>,
    pub prompt_template: String,
    pub default_variables: BTreeMap<String, String>,
    pub age_group: AgeGroup,
    pub category: Category,
    pub difficulty: Difficulty,
    pub example_project_id: Option<Uuid>,
    pub usage_count: i32,
    pub like_count: i32,
    pub status: PromptStatus,
    pub tags: Vec<String>,
    pub created_by: Option<UserId>,
    /// The stable key of a seeded prompt (`metadata.slug`), `None` for prompts made by admins.
    pub slug: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl MagicPrompt {
    /// The placeholder names of the template, in order of first appearance.
    pub fn variables(&self) -> Vec<String> {
        Template::parse(&self.prompt_template).names()
    }
}

/// What an admin (or the seed) writes: every field of a prompt but its counters. Built only
/// through [`PromptDraft::validate`].
#[derive(Debug, Clone, PartialEq)]
pub struct PromptDraft {
    pub title: String,
    pub description: Option<String>,
    pub cover_image_url: Option<String>,
    pub prompt_template: String,
    pub default_variables: BTreeMap<String, String>,
    pub age_group: AgeGroup,
    pub category: Category,
    pub difficulty: Difficulty,
    pub example_project_id: Option<Uuid>,
    pub status: PromptStatus,
    pub tags: Vec<String>,
    pub slug: Option<String>,
}

/// The raw fields of a draft, as a request or the seed file carries them.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RawPromptDraft {
    #[serde(default)]
    pub slug: Option<String>,
    pub title: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub cover_image_url: Option<String>,
    pub prompt_template: String,
    #[serde(default)]
    pub default_variables: serde_json::Value,
    pub age_group: String,
    pub category: String,
    #[serde(default)]
    pub difficulty_level: Option<String>,
    #[serde(default)]
    pub example_project_id: Option<Uuid>,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub tags: Vec<String>,
}

fn optional_text(
    field: &str,
    value: Option<String>,
    max: usize,
) -> Result<Option<String>, SocialError> {
    let Some(v) = value else { return Ok(None) };
    let v = v.trim();
    if v.is_empty() {
        return Ok(None);
    }
    if v.chars().count() > max {
        return Err(SocialError::invalid(
            field,
            format!("must be at most {max} characters"),
        ));
    }
    Ok(Some(v.to_owned()))
}

fn parse_enum<T>(
    field: &str,
    value: &str,
    parse: fn(&str) -> Option<T>,
    choices: String,
) -> Result<T, SocialError> {
    parse(value.trim()).ok_or_else(|| SocialError::invalid(field, format!("must be {choices}")))
}

impl PromptDraft {
    /// Trims and checks every field: title 1–200 characters, template non-blank and at most
    /// 5000 characters, defaults an object of scalar values whose keys are placeholders of the
    /// template, known enumeration values, at most 20 tags of 1–50 characters.
    pub fn validate(raw: RawPromptDraft) -> Result<Self, SocialError> {
        let title = raw.title.trim().to_owned();
        let title_len = title.chars().count();
        if title_len == 0 || title_len > MAX_TITLE_CHARS {
            return Err(SocialError::invalid(
                "title",
                format!("must be 1 to {MAX_TITLE_CHARS} characters"),
            ));
        }
        let template = raw.prompt_template.trim().to_owned();
        let template_len = template.chars().count();
        if template_len == 0 || template_len > MAX_TEMPLATE_CHARS {
            return Err(SocialError::invalid(
                "promptTemplate",
                format!("must be 1 to {MAX_TEMPLATE_CHARS} characters"),
            ));
        }
        let default_variables =
            crate::template::variables_from_json("defaultVariables", &raw.default_variables)?;
        let names = Template::parse(&template).names();
        let strays: Vec<&str> = default_variables
            .keys()
            .filter(|k| !names.iter().any(|n| n == *k))
            .map(String::as_str)
            .collect();
        if !strays.is_empty() {
            return Err(SocialError::invalid(
                "defaultVariables",
                format!(
                    "the template has no placeholder named {}",
                    strays.join(", ")
                ),
            ));
        }
        let mut tags: Vec<String> = Vec::new();
        for t in raw.tags {
            let t = t.trim().to_owned();
            let n = t.chars().count();
            if n == 0 || n > MAX_TAG_CHARS {
                return Err(SocialError::invalid(
                    "tags",
                    format!("each tag must be 1 to {MAX_TAG_CHARS} characters"),
                ));
            }
            if !tags.contains(&t) {
                tags.push(t);
            }
        }
        if tags.len() > MAX_TAGS {
            return Err(SocialError::invalid(
                "tags",
                format!("at most {MAX_TAGS} tags"),
            ));
        }
        let slug = optional_text("slug", raw.slug, 100)?;
        Ok(Self {
            title,
            description: optional_text("description", raw.description, MAX_DESCRIPTION_CHARS)?,
            cover_image_url: optional_text("coverImageUrl", raw.cover_image_url, 500)?,
            prompt_template: template,
            default_variables,
            age_group: parse_enum(
                "ageGroup",
                &raw.age_group,
                AgeGroup::parse,
                AgeGroup::choices(),
            )?,
            category: parse_enum(
                "category",
                &raw.category,
                Category::parse,
                Category::choices(),
            )?,
            difficulty: match raw.difficulty_level {
                None => Difficulty::Beginner,
                Some(d) => parse_enum(
                    "difficultyLevel",
                    &d,
                    Difficulty::parse,
                    Difficulty::choices(),
                )?,
            },
            example_project_id: raw.example_project_id,
            status: match raw.status {
                None => PromptStatus::Active,
                Some(s) => parse_enum("status", &s, PromptStatus::parse, PromptStatus::choices())?,
            },
            tags,
            slug,
        })
    }
}

/// Filters of the magic prompt listing. Non-admins always see `active` prompts only.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PromptFilter {
    pub age_group: Option<AgeGroup>,
    pub category: Option<Category>,
    pub difficulty: Option<Difficulty>,
    pub tag: Option<String>,
    /// Substring of the title or description (case-insensitive).
    pub q: Option<String>,
    /// Only this status; `None` = active only unless `any_status`.
    pub status: Option<PromptStatus>,
    /// Every status when `status` is `None` (admins only; the service enforces it).
    pub any_status: bool,
    pub sort: Option<PromptSort>,
}

/// The project an interaction is about, once the read rule has let the caller through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProjectRef {
    pub id: ProjectId,
    pub tenant_id: TenantId,
    pub owner: UserId,
}

/// A project as the favorites listing shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct ProjectCard {
    pub id: ProjectId,
    pub owner: UserId,
    pub name: String,
    pub description: Option<String>,
    pub cover_image_url: Option<String>,
    pub status: String,
    pub visibility: String,
    pub tags: Vec<String>,
    pub age_group: Option<String>,
    pub view_count: i32,
    pub like_count: i32,
    pub fork_count: i32,
    pub comment_count: i32,
    pub favorited_at: DateTime<Utc>,
}

/// The counters of a project after a change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Counters {
    pub like_count: i32,
    pub comment_count: i32,
    pub view_count: i32,
}

/// The state of one reaction after a like/favorite call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReactionState {
    pub kind: ReactionKind,
    /// Whether the caller now has this reaction on the project.
    pub active: bool,
    /// Whether this call changed anything (false for a repeated like or unlike).
    pub changed: bool,
    pub counters: Counters,
}

/// A stored comment.
#[derive(Debug, Clone, PartialEq)]
pub struct Comment {
    pub id: Uuid,
    pub project_id: ProjectId,
    pub author: UserId,
    pub author_name: Option<String>,
    pub content: String,
    pub hidden: bool,
    pub created_at: DateTime<Utc>,
}

/// A comment with the project it belongs to (for delete and report checks).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CommentRef {
    pub id: Uuid,
    pub project_id: ProjectId,
    pub author: UserId,
    pub hidden: bool,
}

/// Who viewed a project: a signed-in user, or an anonymous client by its trusted IP address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ViewerKey {
    User(UserId),
    Anonymous(String),
}

impl ViewerKey {
    /// The stored key: `u:<uuid>` or `ip:<address>`.
    pub fn key(&self) -> String {
        match self {
            ViewerKey::User(u) => format!("u:{u}"),
            ViewerKey::Anonymous(ip) => format!("ip:{ip}"),
        }
    }
}

/// A stored report.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    pub id: Uuid,
    pub tenant_id: TenantId,
    pub reporter: UserId,
    pub target_kind: TargetKind,
    pub target_id: Uuid,
    /// The project the target is (or belongs to); `None` once the target was deleted.
    pub project_id: Option<Uuid>,
    pub reason: String,
    pub status: ReportStatus,
    pub action: Option<ModerationAction>,
    pub note: Option<String>,
    pub resolved_by: Option<UserId>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    /// The reported project's name or comment's text, for the admin queue (`None` once gone).
    pub target_summary: Option<String>,
    /// Whether the target is hidden right now.
    pub target_hidden: bool,
}

/// What filing a report did.
#[derive(Debug, Clone, PartialEq)]
pub struct ReportOutcome {
    pub report: Report,
    /// False when the caller had already reported this item (the earlier report is returned).
    pub created: bool,
    /// Distinct users with an open report on the item.
    pub open_reports: i64,
    /// Whether this report hid the item.
    pub hid_target: bool,
}

/// An admin's decision.
#[derive(Debug, Clone, PartialEq)]
pub struct Resolution {
    pub action: ModerationAction,
    pub note: Option<String>,
}

/// What resolving a report did.
#[derive(Debug, Clone, PartialEq)]
pub enum ResolveOutcome {
    /// The report (and every other open report on the same item) is resolved.
    Resolved(Report),
    NotFound,
    /// The report was resolved before; nothing changed.
    AlreadyResolved(Report),
}
