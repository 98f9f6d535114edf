//! Reading the requirement text: its language, the audience it mentions, the app kind its
//! keywords point to, and an app name taken from it. Pure functions, no state.

use super::catalog::{AppKind, Level};
use ingenio_app_specs::AgeGroup;

/// The language the generated names and labels are written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Lang {
    En,
    Zh,
}

impl Lang {
    pub(crate) fn as_str(&self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Zh => "zh",
        }
    }

    /// Picks the text of this language.
    pub(crate) fn pick(&self, txt: super::catalog::Txt) -> &'static str {
        match self {
            Lang::En => txt.en,
            Lang::Zh => txt.zh,
        }
    }
}

fn is_cjk(c: char) -> bool {
    matches!(c, '\u{4e00}'..='\u{9fff}' | '\u{3400}'..='\u{4dbf}' | '\u{f900}'..='\u{faff}')
}

/// Chinese when the text has at least as many Chinese characters as Latin words.
pub(crate) fn detect_lang(text: &str) -> Lang {
    let cjk = text.chars().filter(|c| is_cjk(*c)).count();
    let mut words = 0usize;
    let mut in_word = false;
    for c in text.chars() {
        let letter = c.is_ascii_alphabetic();
        if letter && !in_word {
            words += 1;
        }
        in_word = letter;
    }
    if cjk > 0 && cjk >= words {
        Lang::Zh
    } else {
        Lang::En
    }
}

/// The byte offset in `s` itself of the first ASCII-case-insensitive match of the lower-case
/// ASCII `needle`. Offsets found in a lower-cased copy are not offsets of the original (`İ`
/// lower-cases to three bytes, `K` (Kelvin) to one), so matching happens on the original.
pub(crate) fn find_ascii_ci(s: &str, needle: &str) -> Option<usize> {
    if needle.is_empty() {
        return Some(0);
    }
    s.char_indices().map(|(i, _)| i).find(|&i| {
        s.get(i..i + needle.len())
            .is_some_and(|w| w.eq_ignore_ascii_case(needle))
    })
}

/// Whether `s` starts with the lower-case ASCII `prefix`, ignoring ASCII case.
fn starts_with_ascii_ci(s: &str, prefix: &str) -> bool {
    s.get(..prefix.len())
        .is_some_and(|w| w.eq_ignore_ascii_case(prefix))
}

/// Whether `s` ends with the lower-case ASCII `suffix`, ignoring ASCII case.
fn ends_with_ascii_ci(s: &str, suffix: &str) -> bool {
    s.len() >= suffix.len()
        && s.get(s.len() - suffix.len()..)
            .is_some_and(|w| w.eq_ignore_ascii_case(suffix))
}

fn boundary_at(s: &str) -> bool {
    s.chars().next().is_none_or(|c| !c.is_ascii_alphanumeric())
}

/// Whether the lower-cased `hay` contains the lower-cased keyword `kw`. ASCII keywords only match
/// whole words (a plural `s` or `es` is allowed); other keywords match as substrings.
pub(crate) fn contains_keyword(hay: &str, kw: &str) -> bool {
    if kw.is_empty() {
        return false;
    }
    if !kw.is_ascii() {
        return hay.contains(kw);
    }
    let mut start = 0;
    while let Some(pos) = hay[start..].find(kw) {
        let i = start + pos;
        let end = i + kw.len();
        let before_ok = hay[..i]
            .chars()
            .next_back()
            .is_none_or(|c| !c.is_ascii_alphanumeric());
        let rest = &hay[end..];
        let after_ok = boundary_at(rest)
            || rest.strip_prefix('s').is_some_and(boundary_at)
            || rest.strip_prefix("es").is_some_and(boundary_at);
        if before_ok && after_ok {
            return true;
        }
        // `kw` is ASCII, so `i` starts a one-byte character and `i + 1` is a char boundary.
        start = i + 1;
    }
    false
}

/// The score of one kind for a text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct KindScore {
    pub kind: AppKind,
    pub score: u32,
    pub matched: Vec<&'static str>,
}

/// Scores every kind (catalogue order) against the text.
pub(crate) fn score_kinds(text: &str) -> Vec<KindScore> {
    let hay = text.to_lowercase();
    AppKind::ALL
        .into_iter()
        .filter(|k| *k != AppKind::Generic)
        .map(|kind| {
            let mut score = 0;
            let mut matched = Vec::new();
            for (kw, weight) in kind.def().keywords {
                if contains_keyword(&hay, kw) {
                    score += weight;
                    matched.push(*kw);
                }
            }
            KindScore {
                kind,
                score,
                matched,
            }
        })
        .collect()
}

/// The recognised kind: the highest score wins, ties go to the kind matching more keyword
/// characters, then to catalogue order; no match at all gives the generic information app.
pub(crate) fn detect_kind(text: &str) -> KindScore {
    let scores = score_kinds(text);
    let mut best: Option<&KindScore> = None;
    for s in scores.iter().filter(|s| s.score > 0) {
        let better = match best {
            None => true,
            Some(b) => {
                s.score > b.score || (s.score == b.score && matched_chars(s) > matched_chars(b))
            }
        };
        if better {
            best = Some(s);
        }
    }
    best.cloned().unwrap_or(KindScore {
        kind: AppKind::Generic,
        score: 0,
        matched: Vec::new(),
    })
}

fn matched_chars(s: &KindScore) -> usize {
    s.matched.iter().map(|k| k.chars().count()).sum()
}

const AGE_WORDS: &[(AgeGroup, &[&str])] = &[
    (
        AgeGroup::Elementary,
        &[
            "primary school",
            "elementary",
            "pupil",
            "kids",
            "children",
            "小学",
            "一年级",
            "二年级",
            "三年级",
            "四年级",
            "五年级",
            "六年级",
            "儿童",
            "小朋友",
        ],
    ),
    (
        AgeGroup::MiddleSchool,
        &[
            "middle school",
            "junior high",
            "初中",
            "初一",
            "初二",
            "初三",
            "七年级",
            "八年级",
            "九年级",
        ],
    ),
    (
        AgeGroup::HighSchool,
        &["high school", "senior high", "高中", "高一", "高二", "高三"],
    ),
    (
        AgeGroup::University,
        &[
            "university",
            "college",
            "undergraduate",
            "大学",
            "本科",
            "研究生",
            "高校",
        ],
    ),
];

/// The audience mentioned in the text: the one whose word appears first.
pub(crate) fn detect_age(text: &str) -> Option<AgeGroup> {
    let hay = text.to_lowercase();
    let mut best: Option<(usize, AgeGroup)> = None;
    for (age, words) in AGE_WORDS {
        for w in *words {
            let pos = if w.is_ascii() {
                first_word_match(&hay, w)
            } else {
                hay.find(w)
            };
            if let Some(p) = pos {
                if best.is_none_or(|(bp, _)| p < bp) {
                    best = Some((p, *age));
                }
            }
        }
    }
    best.map(|(_, a)| a)
}

fn first_word_match(hay: &str, kw: &str) -> Option<usize> {
    let mut start = 0;
    while let Some(pos) = hay[start..].find(kw) {
        let i = start + pos;
        if contains_keyword(&hay[i..], kw)
            && hay[..i]
                .chars()
                .next_back()
                .is_none_or(|c| !c.is_ascii_alphanumeric())
        {
            return Some(i);
        }
        start = i + 1;
    }
    None
}

/// The level of features for an audience (unknown audiences get the standard set).
pub(crate) fn level_for(age: Option<AgeGroup>) -> Level {
    match age {
        Some(AgeGroup::Elementary) => Level::Basic,
        Some(AgeGroup::University) => Level::Advanced,
        Some(AgeGroup::MiddleSchool) | Some(AgeGroup::HighSchool) | None => Level::Standard,
    }
}

const QUOTES: &[(char, char)] = &[
    ('“', '”'),
    ('「', '」'),
    ('『', '』'),
    ('《', '》'),
    ('"', '"'),
];

/// A name given in quotes (`叫“小书虫”`, `called "Word Master"`).
fn quoted_name(text: &str) -> Option<String> {
    for (open, close) in QUOTES {
        let Some(start) = text.find(*open) else {
            continue;
        };
        let after = &text[start + open.len_utf8()..];
        let Some(end) = after.find(*close) else {
            continue;
        };
        let inner = after[..end].trim();
        let n = inner.chars().count();
        if (2..=30).contains(&n) {
            return Some(inner.to_string());
        }
    }
    None
}

const CLAUSE_BREAKS: &[char] = &[
    '，', '。', '！', '？', '；', '：', ',', '.', '!', '?', ';', ':', '\n', '、',
];

fn clauses(text: &str) -> Vec<&str> {
    text.split(CLAUSE_BREAKS)
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .collect()
}

const ZH_PREFIXES: &[&str] = &[
    "请帮我",
    "帮我",
    "请你",
    "请",
    "我们想要",
    "我们想",
    "我们要",
    "我想要",
    "我想",
    "我要",
    "给我",
    "想要",
    "想",
    "能不能",
    "可以",
    "需要",
    "做一个",
    "做一款",
    "做个",
    "设计一个",
    "开发一个",
    "创建一个",
    "写一个",
    "生成一个",
    "制作一个",
    "搭建一个",
    "建一个",
    "弄一个",
    "一个",
    "一款",
    "个",
];

const ZH_SUFFIXES: &[&str] = &[
    "的应用程序",
    "应用程序",
    "的应用",
    "应用",
    "的小程序",
    "小程序",
    "的app",
    "app",
    "的网站",
    "网站",
    "的软件",
    "软件",
    "吧",
    "呀",
];

fn strip_zh(clause: &str) -> String {
    let mut s = clause.trim().to_string();
    loop {
        let before = s.clone();
        for p in ZH_PREFIXES {
            if let Some(rest) = s.strip_prefix(p) {
                s = rest.trim().to_string();
                break;
            }
        }
        for suf in ZH_SUFFIXES {
            let matches = if suf.is_ascii() {
                ends_with_ascii_ci(&s, suf)
            } else {
                s.ends_with(suf)
            };
            if matches {
                s.truncate(s.len() - suf.len());
                s = s.trim().to_string();
                break;
            }
        }
        if s == before {
            return s;
        }
    }
}

const EN_PREFIXES: &[&str] = &[
    "please",
    "can you",
    "could you",
    "help me",
    "i want to",
    "i want",
    "i'd like",
    "i would like",
    "we want",
    "we need",
    "i need",
    "make me",
    "make",
    "build me",
    "build",
    "create",
    "design",
    "develop",
    "write",
    "generate",
    "me",
    "to",
    "a",
    "an",
    "the",
    "app for",
    "application for",
];

const EN_CUTS: &[&str] = &[
    " that ", " which ", " where ", " with ", " so ", " to ", " who ", " for ",
];

/// Names that say nothing about the app.
const EN_GENERIC_NAMES: &[&str] = &[
    "app",
    "apps",
    "application",
    "website",
    "web app",
    "site",
    "page",
    "system",
    "tool",
    "program",
    "thing",
    "something",
];

const SMALL_WORDS: &[&str] = &[
    "a", "an", "the", "for", "of", "and", "or", "to", "in", "on", "with",
];

fn strip_en(clause: &str) -> String {
    let mut s = clause.trim().to_string();
    loop {
        let before = s.clone();
        for p in EN_PREFIXES {
            if starts_with_ascii_ci(&s, p) && boundary_at(&s[p.len()..]) {
                s = s[p.len()..].trim().to_string();
                break;
            }
        }
        for suf in [" app", " application", " website", " web app"] {
            if ends_with_ascii_ci(&s, suf) {
                s.truncate(s.len() - suf.len());
                s = s.trim().to_string();
                break;
            }
        }
        if s == before {
            return s;
        }
    }
}

fn cut_en(s: &str) -> String {
    if s.split_whitespace().count() <= 5 {
        return s.to_string();
    }
    let cut = EN_CUTS.iter().filter_map(|c| find_ascii_ci(s, c)).min();
    match cut {
        Some(i) => s[..i].trim().to_string(),
        None => s.to_string(),
    }
}

fn title_case(s: &str) -> String {
    s.split_whitespace()
        .enumerate()
        .map(|(i, w)| {
            let lower = w.to_lowercase();
            if i > 0 && SMALL_WORDS.contains(&lower.as_str()) {
                return lower;
            }
            let mut chars = w.chars();
            match chars.next() {
                Some(first) => first.to_uppercase().chain(chars).collect(),
                None => String::new(),
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// The app name: a quoted name if the text gives one; otherwise the first clause that mentions
/// the kind (or the first clause), stripped of "help me make a …" and "… app"; the kind's default
/// name when that does not give a usable name.
pub(crate) fn app_name(text: &str, lang: Lang, kind: AppKind) -> String {
    let default = lang.pick(kind.def().default_name).to_string();
    if let Some(q) = quoted_name(text) {
        return q;
    }
    let all = clauses(text);
    let lower_kw = |c: &str| {
        let l = c.to_lowercase();
        kind.def()
            .keywords
            .iter()
            .any(|(kw, _)| contains_keyword(&l, kw))
    };
    let Some(clause) = all.iter().find(|c| lower_kw(c)).or(all.first()) else {
        return default;
    };
    match lang {
        Lang::Zh => {
            let s = strip_zh(clause);
            let n = s.chars().count();
            let cjk = s.chars().filter(|c| is_cjk(*c)).count();
            if (4..=16).contains(&n) && cjk * 2 >= n {
                s
            } else {
                default
            }
        }
        Lang::En => {
            let s = strip_en(&cut_en(&strip_en(clause)));
            let words = s.split_whitespace().count();
            let letters = s.chars().any(|c| c.is_alphabetic());
            let generic = EN_GENERIC_NAMES.contains(&s.to_lowercase().as_str());
            if (1..=6).contains(&words) && s.chars().count() <= 40 && letters && !generic {
                title_case(&s)
            } else {
                default
            }
        }
    }
}
