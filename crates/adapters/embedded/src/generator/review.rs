//! The offline review: a deterministic opinion of any AppSpec (not only generated ones) based on
//! coverage — enough pages, no empty page, every data model shown by a component, every flow
//! triggered, every page reachable, permissions present, required fields declared.

use super::build::{arr, page_components};
use super::detect::Lang;
use ingenio_app_specs::AiReview;
use serde_json::Value;
use std::collections::BTreeSet;

/// The best score the offline review gives.
pub(crate) const MAX_SCORE: u8 = 95;
/// The lowest score it gives to a spec that passed the rule pass.
pub(crate) const MIN_SCORE: u8 = 60;

fn str_of<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or_default()
}

/// Every string found in a JSON value (recursively).
fn strings(v: &Value, out: &mut BTreeSet<String>) {
    match v {
        Value::String(s) => {
            out.insert(s.clone());
        }
        Value::Array(a) => a.iter().for_each(|x| strings(x, out)),
        Value::Object(o) => o.values().for_each(|x| strings(x, out)),
        _ => {}
    }
}

/// Reviews a spec. `lang` chooses the language of the issues and the summary.
pub(crate) fn review(spec: &Value, lang: Lang) -> (AiReview, String) {
    let zh = lang == Lang::Zh;
    let mut issues = Vec::new();
    let mut penalty: u32 = 0;
    let pages = arr(spec, "pages");
    let models = arr(spec, "dataModels");
    let flows = arr(spec, "flows");

    if pages.len() < 2 {
        penalty += 10;
        issues.push(if zh {
            "只有一个页面，建议至少提供首页和一个功能页面".to_string()
        } else {
            "The app has fewer than two pages; add at least a home page and one feature page"
                .to_string()
        });
    }
    let mut prop_strings = BTreeSet::new();
    let mut model_refs = BTreeSet::new();
    for page in pages {
        let comps = page_components(page);
        if comps.is_empty() {
            penalty += 3;
            issues.push(if zh {
                format!("页面“{}”没有任何组件", str_of(page, "id"))
            } else {
                format!("Page '{}' has no components", str_of(page, "id"))
            });
        }
        for c in comps {
            if let Some(props) = c.get("props") {
                strings(props, &mut prop_strings);
                if let Some(m) = props.get("dataModel").and_then(Value::as_str) {
                    model_refs.insert(m.to_string());
                }
            }
        }
    }
    for m in models {
        let id = str_of(m, "id");
        if !model_refs.contains(id) {
            penalty += 3;
            issues.push(if zh {
                format!("数据模型“{id}”没有被任何组件使用")
            } else {
                format!("Data model '{id}' is not shown or edited by any component")
            });
        }
        let has_required = arr(m, "fields")
            .iter()
            .any(|f| f.get("required").and_then(Value::as_bool) == Some(true));
        if !has_required {
            penalty += 1;
            issues.push(if zh {
                format!("数据模型“{id}”没有必填字段")
            } else {
                format!("Data model '{id}' has no required field")
            });
        }
    }
    let mut nav_targets = BTreeSet::new();
    for f in flows {
        let id = str_of(f, "id");
        let on_load = matches!(
            str_of(f, "trigger"),
            "onLoad" | "pageLoad" | "load" | "onMount"
        );
        if !on_load && !prop_strings.contains(id) {
            penalty += 2;
            issues.push(if zh {
                format!("流程“{id}”没有被任何组件触发")
            } else {
                format!("Flow '{id}' is not triggered by any component")
            });
        }
        for a in arr(f, "actions") {
            if str_of(a, "type") == "navigate" {
                if let Some(to) = a.pointer("/config/to").and_then(Value::as_str) {
                    nav_targets.insert(to.to_string());
                }
            }
        }
    }
    let unreachable: Vec<&str> = pages
        .iter()
        .map(|p| str_of(p, "path"))
        .filter(|p| *p != "/" && !nav_targets.contains(*p))
        .collect();
    if pages.len() >= 2 {
        for p in &unreachable {
            penalty += 2;
            issues.push(if zh {
                format!("没有导航可以到达页面“{p}”")
            } else {
                format!("No navigation leads to page '{p}'")
            });
        }
    }
    let rules = spec
        .pointer("/permissions/rules")
        .and_then(Value::as_array)
        .map_or(0, Vec::len);
    if rules == 0 {
        penalty += 3;
        issues.push(if zh {
            "没有定义权限规则".to_string()
        } else {
            "No permission rules are defined".to_string()
        });
    }

    let score = u32::from(MAX_SCORE)
        .saturating_sub(penalty)
        .max(u32::from(MIN_SCORE));
    let score = u8::try_from(score).unwrap_or(MIN_SCORE);
    let summary = if zh {
        format!(
            "离线评审：{} 个页面、{} 个数据模型、{} 个流程；发现 {} 个问题，得分 {}。",
            pages.len(),
            models.len(),
            flows.len(),
            issues.len(),
            score
        )
    } else {
        format!(
            "Offline review: {} pages, {} data models, {} flows; {} issue(s) found, score {}.",
            pages.len(),
            models.len(),
            flows.len(),
            issues.len(),
            score
        )
    };
    let reasoning = format!(
        "Rule-based review (no AI): started from {MAX_SCORE}, minus 10 for fewer than two pages, 3 per empty page, \
         3 per data model no component uses, 1 per model without a required field, 2 per flow no component \
         triggers, 2 per unreachable page, 3 for missing permission rules (floor {MIN_SCORE}); penalty {penalty}, \
         score {score}."
    );
    (
        AiReview {
            score,
            issues,
            summary,
        },
        reasoning,
    )
}
