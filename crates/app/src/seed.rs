//! The curated magic prompts (`seeds/magic_prompts.json`, compiled into the binary) and their
//! idempotent loading by `ingenio-server db seed` / `cargo xtask seed` (keyed by each prompt's
//! `slug`: content follows the file, status and counters are kept).

use anyhow::Context as _;
use ingenio_kernel::TenantId;
use ingenio_social::{RawPromptDraft, SocialService};

/// The seed file as shipped.
pub const MAGIC_PROMPTS_JSON: &str = include_str!("../../../seeds/magic_prompts.json");

/// The seeded prompts, parsed (not yet validated).
pub fn magic_prompts() -> anyhow::Result<Vec<RawPromptDraft>> {
    serde_json::from_str(MAGIC_PROMPTS_JSON).context("parse seeds/magic_prompts.json")
}

/// Loads every seeded prompt into `tenant`; returns (inserted, already present).
pub async fn seed_magic_prompts(
    social: &SocialService,
    tenant: TenantId,
) -> anyhow::Result<(usize, usize)> {
    social
        .seed_prompts(tenant, magic_prompts()?)
        .await
        .map_err(|e| anyhow::anyhow!("seed magic prompts: {e}"))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use ingenio_app_specs::validation::validate_value;
    use ingenio_app_specs::{AgeGroup, GenerationInput};
    use ingenio_embedded::OfflineGenerator;
    use ingenio_social::template::Template;
    use ingenio_social::{Category, PromptDraft};
    use std::collections::{BTreeMap, BTreeSet};

    fn drafts() -> Vec<PromptDraft> {
        magic_prompts()
            .unwrap()
            .into_iter()
            .map(|r| PromptDraft::validate(r).unwrap())
            .collect()
    }

    #[test]
    fn the_seed_covers_every_age_group_and_category_in_chinese() {
        let d = drafts();
        assert!(d.len() >= 12, "{} prompts", d.len());
        let ages: BTreeSet<&str> = d.iter().map(|p| p.age_group.as_str()).collect();
        let cats: BTreeSet<&str> = d.iter().map(|p| p.category.as_str()).collect();
        assert_eq!(ages.len(), ingenio_social::AgeGroup::ALL.len(), "{ages:?}");
        assert_eq!(cats.len(), Category::ALL.len(), "{cats:?}");
        let slugs: BTreeSet<&str> = d.iter().filter_map(|p| p.slug.as_deref()).collect();
        assert_eq!(slugs.len(), d.len(), "every prompt has its own slug");
        let titles: BTreeSet<&str> = d.iter().map(|p| p.title.as_str()).collect();
        assert_eq!(titles.len(), d.len(), "titles are unique");
        let cjk = |s: &str| s.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c));
        for p in &d {
            assert!(cjk(&p.title) && cjk(&p.prompt_template), "{}", p.title);
        }
    }

    /// Each seeded prompt, filled with its defaults, becomes a spec that the offline generator
    /// builds and that passes the rule pass with no errors and the default quality gate.
    #[test]
    fn every_seeded_prompt_generates_a_valid_spec_offline() {
        let g = OfflineGenerator;
        for p in drafts() {
            let requirement = Template::parse(&p.prompt_template)
                .fill(&p.default_variables, &BTreeMap::new())
                .unwrap_or_else(|e| panic!("{}: {}", p.title, e.message()));
            assert!(
                (10..=5000).contains(&requirement.chars().count()),
                "{}",
                p.title
            );
            let input = GenerationInput {
                requirement,
                age_group: AgeGroup::parse(p.age_group.as_str()),
                previous_spec: None,
            };
            let plan = g.plan_value(&input);
            let spec = g.spec_value(&input, &plan);
            let report = validate_value(&spec);
            assert!(report.is_valid(), "{}: {:?}", p.title, report.findings);
            let (review, _) = g.review_value(&input, &spec);
            let final_score = (6 * u32::from(report.rule_score) + 4 * u32::from(review.score)) / 10;
            assert!(final_score >= 80, "{}: final score {final_score}", p.title);
        }
    }
}
