//! The agents' prompts: version-controlled system prompts in `prompts/*.md` (their first line,
//! `agent: <name>`, identifies the agent to test doubles) and the user messages built from the
//! generation input.

use ingenio_app_specs::{AgeGroup, GenerationInput};
use serde_json::Value;

/// System prompt of the plan agent (`prompts/plan.md`).
pub const PLAN_SYSTEM_PROMPT: &str = include_str!("../prompts/plan.md");
/// System prompt of the execute agent (`prompts/execute.md`).
pub const EXECUTE_SYSTEM_PROMPT: &str = include_str!("../prompts/execute.md");
/// System prompt of the review agent (`prompts/review.md`).
pub const REVIEW_SYSTEM_PROMPT: &str = include_str!("../prompts/review.md");

/// The longest previous spec / plan quoted into a prompt, in characters (keeps requests small).
const MAX_QUOTED_CHARS: usize = 60_000;

fn age_line(age: Option<AgeGroup>) -> String {
    let label = match age {
        Some(AgeGroup::Elementary) => "elementary (primary school, 6–12 years)",
        Some(AgeGroup::MiddleSchool) => "middle_school (12–15 years)",
        Some(AgeGroup::HighSchool) => "high_school (15–18 years)",
        Some(AgeGroup::University) => "university",
        None => "not given (plan as for middle_school)",
    };
    format!("Age group: {label}")
}

/// True when the requirement is mostly Chinese (any CJK ideographs at all count: students mix
/// English words into Chinese sentences far more often than the other way round).
pub(crate) fn is_chinese(text: &str) -> bool {
    text.chars().any(|c| {
        matches!(c as u32, 0x4E00..=0x9FFF | 0x3400..=0x4DBF | 0xF900..=0xFAFF | 0x20000..=0x2A6DF)
    })
}

fn language_line(requirement: &str) -> &'static str {
    if is_chinese(requirement) {
        "Language of user-facing text: Simplified Chinese (简体中文)"
    } else {
        "Language of user-facing text: the requirement's language (English unless it is clearly another)"
    }
}

fn quote(v: &Value) -> String {
    let text = serde_json::to_string_pretty(v).unwrap_or_else(|_| v.to_string());
    if text.chars().count() > MAX_QUOTED_CHARS {
        let cut: String = text.chars().take(MAX_QUOTED_CHARS).collect();
        format!("{cut}\n… (truncated)")
    } else {
        text
    }
}

fn header(input: &GenerationInput) -> String {
    let mut s = String::new();
    s.push_str(&age_line(input.age_group));
    s.push('\n');
    s.push_str(language_line(&input.requirement));
    s.push_str("\n\nRequirement:\n\"\"\"\n");
    s.push_str(input.requirement.trim());
    s.push_str("\n\"\"\"\n");
    if let Some(prev) = &input.previous_spec {
        s.push_str("\nCurrent spec (the student is regenerating this app):\n");
        s.push_str(&quote(prev));
        s.push('\n');
    }
    s
}

pub(crate) fn plan_user(input: &GenerationInput) -> String {
    format!("{}\nWrite the plan as one json object, exactly in the shape of the system prompt's example.", header(input))
}

pub(crate) fn execute_user(input: &GenerationInput, plan: &Value) -> String {
    format!(
        "{}\nPlan:\n{}\n\nWrite the complete AppSpec as one json object, exactly in the shape of the system prompt.",
        header(input),
        quote(plan)
    )
}

pub(crate) fn review_user(input: &GenerationInput, spec: &Value) -> String {
    format!(
        "{}\nAppSpec to review:\n{}\n\nAnswer with the review as one json object: {{\"score\": <0-100>, \"issues\": [..], \"summary\": \"..\"}}.",
        header(input),
        quote(spec)
    )
}

/// The corrective user message after an unusable answer.
pub(crate) fn corrective(problem: &str) -> String {
    format!(
        "Your previous answer could not be used: {problem}\n\
         Answer again with valid json only: exactly one complete JSON object in the shape the system \
         prompt describes, no code fences, no text before or after it, and keep it short enough to fit."
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn system_prompts_identify_agent_and_mention_json() {
        for (prompt, agent) in [
            (PLAN_SYSTEM_PROMPT, "plan"),
            (EXECUTE_SYSTEM_PROMPT, "execute"),
            (REVIEW_SYSTEM_PROMPT, "review"),
        ] {
            assert_eq!(
                prompt.lines().next(),
                Some(format!("agent: {agent}").as_str())
            );
            assert!(
                prompt.contains("json"),
                "{agent} prompt must contain the word json"
            );
            assert!(
                prompt.contains("# Example"),
                "{agent} prompt must show an example"
            );
        }
    }

    #[test]
    fn examples_in_prompts_are_valid_json_objects() {
        for prompt in [
            PLAN_SYSTEM_PROMPT,
            EXECUTE_SYSTEM_PROMPT,
            REVIEW_SYSTEM_PROMPT,
        ] {
            let example = prompt.rsplit("# Example").next().unwrap_or_default();
            let start = example.find("\n{").map(|i| i + 1).unwrap_or(0);
            let obj = crate::parse::extract_json_object(&example[start..]);
            assert!(obj.is_ok(), "example is not json: {obj:?}");
        }
    }

    #[test]
    fn the_execute_example_passes_the_rule_pass() {
        let example = EXECUTE_SYSTEM_PROMPT
            .rsplit("# Example")
            .next()
            .unwrap_or_default();
        let start = example.find("\n{").map(|i| i + 1).unwrap_or(0);
        let spec = crate::parse::extract_json_object(&example[start..]).unwrap_or_default();
        let report = ingenio_app_specs::validation::validate_value(&spec);
        assert_eq!(report.rule_score, 100, "{:?}", report.findings);
    }

    #[test]
    fn user_messages_carry_age_language_and_previous_spec() {
        let input = GenerationInput {
            requirement: "做一个记录每天读书时间的小程序".into(),
            age_group: Some(AgeGroup::Elementary),
            previous_spec: Some(serde_json::json!({"appName": "读书"})),
        };
        let m = plan_user(&input);
        assert!(m.contains("elementary"));
        assert!(m.contains("Simplified Chinese"));
        assert!(m.contains("Current spec"));
        assert!(m.contains("json"));
        assert!(!is_chinese("A quiz app about animals"));
        assert!(corrective("invalid json: EOF").contains("invalid json: EOF"));
    }
}
