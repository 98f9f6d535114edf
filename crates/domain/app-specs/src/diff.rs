//! Semantic diff between two AppSpecs for the time machine: entities matched by id (fields by
//! name within their model, permission rules by resource, roles by name), reported as
//! added / removed / changed with paths, before/after values, readable details and a summary.

use std::cell::Cell;
use std::cmp::Ordering;
use std::collections::{BTreeSet, HashMap, HashSet};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::spec::{
    index_path, key_path, AppSpec, Component, DataModel, Field, Flow, Page, PermissionRule,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ChangeKind {
    Added,
    Removed,
    Changed,
}

/// Declaration order is the order changes are reported in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum EntityKind {
    App,
    Page,
    Component,
    DataModel,
    Field,
    Flow,
    PermissionRule,
    Role,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Change {
    pub kind: ChangeKind,
    pub entity: EntityKind,
    /// The entity's id: page/component/model/flow id, `model.field` for fields, the resource for
    /// permission rules, the role name, `app` for app-level settings. A duplicate id gets a `#n`
    /// suffix (`home#2`).
    pub id: String,
    /// Where the entity is: in `to` for added/changed, in `from` for removed (`$` for the app).
    pub path: String,
    pub before: Option<Value>,
    pub after: Option<Value>,
    /// For changes: one line per changed value, e.g. `name: "Home" → "首页"`.
    pub details: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SpecDiff {
    pub changes: Vec<Change>,
    pub added: u32,
    pub removed: u32,
    pub changed: u32,
    /// E.g. `Added page "Results" (/results); changed data model "Word" (1 field added).` or
    /// `No changes.`
    pub summary: String,
}

impl SpecDiff {
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }
}

/// At most this many detail lines per change (then `… and N more`).
const MAX_DETAILS: usize = 20;
/// Values in detail lines are cut to this many characters.
const MAX_VALUE_CHARS: usize = 60;

/// The semantic diff `from` → `to`. Deterministic: changes ordered by entity kind, then path
/// (numeric-aware), then kind and id.
pub fn diff(from: &AppSpec, to: &AppSpec) -> SpecDiff {
    diff_counted(from, to).0
}

/// [`diff`] and the work it did: one step per item keyed, looked up, compared or reported, per
/// detail value visited and per comparison of the final sort. Every step is O(1) apart from
/// hashing and comparing one id or path, so the count tracks the running time without a clock:
/// near-linear in the size of the specs (n log n for the sort).
pub fn diff_counted(from: &AppSpec, to: &AppSpec) -> (SpecDiff, u64) {
    let work = Work::default();
    let diff = run(from, to, &work);
    (diff, work.0.get())
}

/// A step counter shared by the parts of one diff.
#[derive(Default)]
struct Work(Cell<u64>);

impl Work {
    fn add(&self, n: usize) {
        let n = u64::try_from(n).unwrap_or(u64::MAX);
        self.0.set(self.0.get().saturating_add(n));
    }
}

fn run(from: &AppSpec, to: &AppSpec, work: &Work) -> SpecDiff {
    let mut d = Differ {
        entries: Vec::new(),
        work,
    };
    d.app(from, to);
    d.pages(from, to);
    d.components(from, to);
    d.data_models(from, to);
    d.flows(from, to);
    d.rules(from, to);
    d.roles(from, to);
    let mut entries = d.entries;
    entries.sort_by(|a, b| {
        work.add(1);
        a.change
            .entity
            .cmp(&b.change.entity)
            .then_with(|| natural_cmp(&a.change.path, &b.change.path))
            .then_with(|| a.change.kind.cmp(&b.change.kind))
            .then_with(|| a.change.id.cmp(&b.change.id))
    });
    let summary = summarise(&entries, work);
    let changes: Vec<Change> = entries.into_iter().map(|e| e.change).collect();
    let count = |k: ChangeKind| {
        u32::try_from(changes.iter().filter(|c| c.kind == k).count()).unwrap_or(u32::MAX)
    };
    SpecDiff {
        added: count(ChangeKind::Added),
        removed: count(ChangeKind::Removed),
        changed: count(ChangeKind::Changed),
        changes,
        summary,
    }
}

struct Entry {
    change: Change,
    /// How the summary names the entity (a page's name, a flow's name, …).
    label: String,
    /// For fields: the key and name of the data model they belong to.
    model: Option<(String, String)>,
}

struct Differ<'w> {
    entries: Vec<Entry>,
    work: &'w Work,
}

/// One side of a keyed entity list: key (id, disambiguated), path, position in its list, value.
struct Keyed<'a, T> {
    key: String,
    path: String,
    index: usize,
    item: &'a T,
}

/// Keys items by `id`, suffixing repeats `#2`, `#3`, … so duplicates still pair up in order.
fn keyed<'a, T>(
    items: impl Iterator<Item = (&'a str, String, &'a T)>,
    work: &Work,
) -> Vec<Keyed<'a, T>> {
    let mut seen: HashMap<&str, usize> = HashMap::new();
    items
        .enumerate()
        .map(|(index, (id, path, item))| {
            work.add(1);
            let n = seen.entry(id).or_insert(0);
            *n += 1;
            let key = if *n == 1 {
                id.to_string()
            } else {
                format!("{id}#{n}")
            };
            Keyed {
                key,
                path,
                index,
                item,
            }
        })
        .collect()
}

/// Keys the items of `list` (at `base[i]`) by `id`.
fn keyed_list<'a, T>(
    list: &'a [T],
    base: &str,
    id: impl Fn(&'a T) -> &'a str,
    work: &Work,
) -> Vec<Keyed<'a, T>> {
    keyed(
        list.iter()
            .enumerate()
            .map(|(i, item)| (id(item), index_path(base, i), item)),
        work,
    )
}

/// Pairs two keyed lists: (removed, added, in both).
type Paired<'a, 'b, T> = (
    Vec<&'b Keyed<'a, T>>,
    Vec<&'b Keyed<'a, T>>,
    Vec<(&'b Keyed<'a, T>, &'b Keyed<'a, T>)>,
);

fn pair<'a, 'b, T>(
    from: &'b [Keyed<'a, T>],
    to: &'b [Keyed<'a, T>],
    work: &Work,
) -> Paired<'a, 'b, T> {
    work.add(2 * (from.len() + to.len()));
    let to_index: HashMap<&str, &Keyed<'a, T>> = to.iter().map(|k| (k.key.as_str(), k)).collect();
    let from_keys: HashSet<&str> = from.iter().map(|k| k.key.as_str()).collect();
    let mut removed = Vec::new();
    let mut both = Vec::new();
    for f in from {
        match to_index.get(f.key.as_str()) {
            Some(t) => both.push((f, *t)),
            None => removed.push(f),
        }
    }
    let added = to
        .iter()
        .filter(|t| !from_keys.contains(t.key.as_str()))
        .collect();
    (removed, added, both)
}

fn or_id(name: &str, id: &str) -> String {
    if name.trim().is_empty() {
        id.to_string()
    } else {
        name.to_string()
    }
}

impl Differ<'_> {
    #[allow(clippy::too_many_arguments)]
    fn push(
        &mut self,
        kind: ChangeKind,
        entity: EntityKind,
        id: &str,
        path: &str,
        before: Option<Value>,
        after: Option<Value>,
        label: String,
        model: Option<(String, String)>,
    ) {
        self.work.add(1);
        let details = match (kind, &before, &after) {
            (ChangeKind::Changed, Some(b), Some(a)) => details_of(b, a, self.work),
            _ => Vec::new(),
        };
        let change = Change {
            kind,
            entity,
            id: id.to_string(),
            path: path.to_string(),
            before,
            after,
            details,
        };
        self.entries.push(Entry {
            change,
            label,
            model,
        });
    }

    fn app(&mut self, from: &AppSpec, to: &AppSpec) {
        let a = app_fields(from);
        let b = app_fields(to);
        if a != b {
            let label = or_id(&to.app_name, "app");
            self.push(
                ChangeKind::Changed,
                EntityKind::App,
                "app",
                "$",
                Some(a),
                Some(b),
                label,
                None,
            );
        }
    }

    /// Reports one keyed collection: removed and added items whole (`full`), and for items on
    /// both sides the `(before, after)` that `changed` returns, if any. With `model` (fields),
    /// ids are `model.key` and the entries carry the model.
    fn report<T>(
        &mut self,
        entity: EntityKind,
        (removed, added, both): &Paired<'_, '_, T>,
        model: Option<&(String, String)>,
        full: impl Fn(&T) -> Value,
        changed: impl Fn(&T, &T) -> Option<(Value, Value)>,
        label: impl Fn(&Keyed<'_, T>) -> String,
    ) {
        let id = |k: &Keyed<'_, T>| match model {
            Some((m, _)) => format!("{m}.{}", k.key),
            None => k.key.clone(),
        };
        for r in removed {
            let (b, l) = (Some(full(r.item)), label(r));
            self.push(
                ChangeKind::Removed,
                entity,
                &id(r),
                &r.path,
                b,
                None,
                l,
                model.cloned(),
            );
        }
        for a in added {
            let (v, l) = (Some(full(a.item)), label(a));
            self.push(
                ChangeKind::Added,
                entity,
                &id(a),
                &a.path,
                None,
                v,
                l,
                model.cloned(),
            );
        }
        for (x, y) in both {
            self.work.add(1);
            if let Some((b, a)) = changed(x.item, y.item) {
                let (b, a, l) = (Some(b), Some(a), label(y));
                self.push(
                    ChangeKind::Changed,
                    entity,
                    &id(y),
                    &y.path,
                    b,
                    a,
                    l,
                    model.cloned(),
                );
            }
        }
    }

    fn pages(&mut self, from: &AppSpec, to: &AppSpec) {
        let side = |s| keyed_list(s, "pages", |p: &Page| p.id.as_str(), self.work);
        let (f, t) = (side(&from.pages), side(&to.pages));
        let label = |k: &Keyed<'_, Page>| {
            let p = k.item;
            format!("\"{}\" ({})", or_id(&p.name, &p.id), p.path)
        };
        let changed = own(Page::own_fields);
        self.report(
            EntityKind::Page,
            &pair(&f, &t, self.work),
            None,
            Page::to_value,
            changed,
            label,
        );
    }

    fn components(&mut self, from: &AppSpec, to: &AppSpec) {
        let (fl, tl) = (located(from), located(to));
        let (f, t) = (keyed_located(&fl, self.work), keyed_located(&tl, self.work));
        // Components that come and go with their parent (page or component) are carried by the
        // parent's own change, not reported again.
        let (f_parents, t_parents) = (parents(from, &fl), parents(to, &tl));
        let (mut removed, mut added, both) = pair(&f, &t, self.work);
        removed.retain(|r| t_parents.contains(&r.item.parent));
        added.retain(|a| f_parents.contains(&a.item.parent));
        let changed = |x: &Located<'_>, y: &Located<'_>| {
            let (mut bx, mut by) = (x.c.own_fields(), y.c.own_fields());
            if bx == by && x.parent == y.parent {
                return None;
            }
            // The location is part of what changed; reported as `parent: … → …`.
            bx.insert("parent".into(), Value::String(x.parent.clone()));
            by.insert("parent".into(), Value::String(y.parent.clone()));
            Some((Value::Object(bx), Value::Object(by)))
        };
        self.report(
            EntityKind::Component,
            &(removed, added, both),
            None,
            |l| l.c.to_value(),
            changed,
            |k| k.key.clone(),
        );
    }

    fn data_models(&mut self, from: &AppSpec, to: &AppSpec) {
        let side = |s| keyed_list(s, "dataModels", |m: &DataModel| m.id.as_str(), self.work);
        let (f, t) = (side(&from.data_models), side(&to.data_models));
        let paired = pair(&f, &t, self.work);
        let label = |k: &Keyed<'_, DataModel>| or_id(&k.item.name, &k.item.id);
        let changed = own(DataModel::own_fields);
        self.report(
            EntityKind::DataModel,
            &paired,
            None,
            DataModel::to_value,
            changed,
            label,
        );
        for (x, y) in paired.2 {
            self.fields(x, y);
        }
    }

    fn fields(&mut self, x: &Keyed<'_, DataModel>, y: &Keyed<'_, DataModel>) {
        fn name(f: &Field) -> &str {
            f.name.as_str()
        }
        let f = keyed_list(
            &x.item.fields,
            &key_path(&x.path, "fields"),
            name,
            self.work,
        );
        let t = keyed_list(
            &y.item.fields,
            &key_path(&y.path, "fields"),
            name,
            self.work,
        );
        let (removed, added, both) = pair(&f, &t, self.work);
        let model = (y.key.clone(), or_id(&y.item.name, &y.item.id));
        // A field removed and one added at the same position, identical but for the name, is a
        // rename: reported as one change. Positions are unique, so one lookup per removed field.
        let added_at: HashMap<usize, usize> = added
            .iter()
            .enumerate()
            .map(|(ai, a)| (a.index, ai))
            .collect();
        let mut renamed: HashSet<usize> = HashSet::new();
        let mut renamed_to: HashSet<usize> = HashSet::new();
        for (ri, r) in removed.iter().enumerate() {
            self.work.add(1);
            let Some(&ai) = added_at.get(&r.index) else {
                continue;
            };
            let a = added[ai];
            if !same_but_name(r.item, a.item) {
                continue;
            }
            renamed.insert(ri);
            renamed_to.insert(ai);
            let (b, v) = (Some(r.item.to_value()), Some(a.item.to_value()));
            let id = format!("{}.{}", model.0, a.key);
            let (e, l) = (EntityKind::Field, a.key.clone());
            self.push(
                ChangeKind::Changed,
                e,
                &id,
                &a.path,
                b,
                v,
                l,
                Some(model.clone()),
            );
        }
        let unmatched = |list: Vec<_>, matched: &HashSet<usize>| {
            list.into_iter()
                .enumerate()
                .filter(|(i, _)| !matched.contains(i))
                .map(|(_, k)| k)
                .collect()
        };
        let rest = (
            unmatched(removed, &renamed),
            unmatched(added, &renamed_to),
            both,
        );
        let changed = whole(Field::to_value);
        let label = |k: &Keyed<'_, Field>| k.key.clone();
        self.report(
            EntityKind::Field,
            &rest,
            Some(&model),
            Field::to_value,
            changed,
            label,
        );
    }

    fn flows(&mut self, from: &AppSpec, to: &AppSpec) {
        let side = |s| keyed_list(s, "flows", |f: &Flow| f.id.as_str(), self.work);
        let (f, t) = (side(&from.flows), side(&to.flows));
        let label = |k: &Keyed<'_, Flow>| or_id(&k.item.name, &k.item.id);
        let changed = whole(Flow::to_value);
        self.report(
            EntityKind::Flow,
            &pair(&f, &t, self.work),
            None,
            Flow::to_value,
            changed,
            label,
        );
    }

    fn rules(&mut self, from: &AppSpec, to: &AppSpec) {
        let side = |s| {
            keyed_list(
                s,
                "permissions.rules",
                |r: &PermissionRule| r.resource.as_str(),
                self.work,
            )
        };
        let (f, t) = (side(&from.permissions.rules), side(&to.permissions.rules));
        self.report(
            EntityKind::PermissionRule,
            &pair(&f, &t, self.work),
            None,
            PermissionRule::to_value,
            whole(PermissionRule::to_value),
            |k| k.item.resource.clone(),
        );
    }

    fn roles(&mut self, from: &AppSpec, to: &AppSpec) {
        let side = |s| keyed_list(s, "permissions.roles", |r: &String| r.as_str(), self.work);
        let (f, t) = (side(&from.permissions.roles), side(&to.permissions.roles));
        // A role is only its name: it is added or removed, never changed.
        self.report(
            EntityKind::Role,
            &pair(&f, &t, self.work),
            None,
            |r: &String| Value::String(r.clone()),
            |_, _| None,
            |k| k.item.clone(),
        );
    }
}

/// `changed` for entities compared whole: both values when they differ.
fn whole<T: PartialEq>(
    to_value: impl Fn(&T) -> Value,
) -> impl Fn(&T, &T) -> Option<(Value, Value)> {
    move |x, y| (x != y).then(|| (to_value(x), to_value(y)))
}

/// `changed` for entities compared without their children: their own fields when they differ.
fn own<T>(
    own_fields: impl Fn(&T) -> Map<String, Value>,
) -> impl Fn(&T, &T) -> Option<(Value, Value)> {
    move |x, y| {
        let (a, b) = (own_fields(x), own_fields(y));
        (a != b).then_some((Value::Object(a), Value::Object(b)))
    }
}

/// App-level settings: `version`, `appName`, unknown top-level keys and unknown keys of
/// `permissions` (under `permissions`).
fn app_fields(s: &AppSpec) -> Value {
    let mut m = s.extra.clone();
    m.insert("version".into(), Value::String(s.version.clone()));
    m.insert("appName".into(), Value::String(s.app_name.clone()));
    if !s.permissions.extra.is_empty() {
        m.insert(
            "permissions".into(),
            Value::Object(s.permissions.extra.clone()),
        );
    }
    Value::Object(m)
}

/// A component and a description of its parent (`page "home"` / `component "card"`).
struct Located<'a> {
    c: &'a Component,
    parent: String,
}

fn located(s: &AppSpec) -> Vec<(String, Located<'_>)> {
    s.components()
        .into_iter()
        .map(|(p, c)| {
            (
                p,
                Located {
                    c: c.component,
                    parent: parent_of(&c),
                },
            )
        })
        .collect()
}

fn keyed_located<'a, 'b>(
    list: &'b [(String, Located<'a>)],
    work: &Work,
) -> Vec<Keyed<'b, Located<'a>>> {
    keyed(
        list.iter().map(|(p, l)| (l.c.id.as_str(), p.clone(), l)),
        work,
    )
}

fn parent_of(c: &crate::spec::ComponentRef<'_>) -> String {
    match c.parent {
        Some(p) => format!("component \"{}\"", p.id),
        None => format!("page \"{}\"", c.page.id),
    }
}

/// Every possible parent description present in a spec.
fn parents(s: &AppSpec, all: &[(String, Located<'_>)]) -> HashSet<String> {
    let pages = s.pages.iter().map(|p| format!("page \"{}\"", p.id));
    let comps = all.iter().map(|(_, l)| format!("component \"{}\"", l.c.id));
    pages.chain(comps).collect()
}

fn same_but_name(a: &Field, b: &Field) -> bool {
    a.r#type == b.r#type
        && a.required == b.required
        && a.validation == b.validation
        && a.extra == b.extra
}

// ---------------------------------------------------------------------------------------------
// details

fn details_of(before: &Value, after: &Value, work: &Work) -> Vec<String> {
    let mut out = Vec::new();
    match (before, after) {
        (Value::Object(a), Value::Object(b)) => object_details("", a, b, &mut out, work),
        _ => value_details("value", Some(before), Some(after), &mut out, work),
    }
    if out.len() > MAX_DETAILS {
        let more = out.len() - MAX_DETAILS;
        out.truncate(MAX_DETAILS);
        out.push(format!("… and {more} more"));
    }
    out
}

fn object_details(
    prefix: &str,
    a: &Map<String, Value>,
    b: &Map<String, Value>,
    out: &mut Vec<String>,
    work: &Work,
) {
    let keys: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
    for k in keys {
        let p = if prefix.is_empty() {
            k.clone()
        } else {
            format!("{prefix}.{k}")
        };
        value_details(&p, a.get(k), b.get(k), out, work);
    }
}

fn value_details(
    prefix: &str,
    a: Option<&Value>,
    b: Option<&Value>,
    out: &mut Vec<String>,
    work: &Work,
) {
    work.add(1);
    if a == b {
        return;
    }
    match (a, b) {
        (Some(Value::Object(x)), Some(Value::Object(y))) => object_details(prefix, x, y, out, work),
        (Some(Value::Array(x)), Some(Value::Array(y))) if x.len() == y.len() => {
            for (i, (p, q)) in x.iter().zip(y).enumerate() {
                value_details(&format!("{prefix}[{i}]"), Some(p), Some(q), out, work);
            }
        }
        (Some(Value::Array(x)), Some(Value::Array(y))) if all_strings(x) && all_strings(y) => {
            out.push(format!("{prefix}: {} → {}", short(a), short(b)));
        }
        (Some(Value::Array(x)), Some(Value::Array(y))) => {
            out.push(format!("{prefix}: {} items → {} items", x.len(), y.len()));
        }
        _ => out.push(format!("{prefix}: {} → {}", short(a), short(b))),
    }
}

fn all_strings(v: &[Value]) -> bool {
    v.iter().all(Value::is_string)
}

/// Compact JSON, cut to `MAX_VALUE_CHARS`; `(none)` for an absent key.
fn short(v: Option<&Value>) -> String {
    let Some(v) = v else {
        return "(none)".to_string();
    };
    let s = v.to_string();
    if s.chars().count() > MAX_VALUE_CHARS {
        let cut: String = s.chars().take(MAX_VALUE_CHARS).collect();
        format!("{cut}…")
    } else {
        s
    }
}

/// Compares paths with embedded numbers numerically (`pages[2]` < `pages[10]`).
pub(crate) fn natural_cmp(a: &str, b: &str) -> Ordering {
    let (mut x, mut y) = (a.chars().peekable(), b.chars().peekable());
    loop {
        match (x.peek().copied(), y.peek().copied()) {
            (None, None) => return Ordering::Equal,
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(c), Some(d)) if c.is_ascii_digit() && d.is_ascii_digit() => {
                let mut n = String::new();
                while let Some(c) = x.next_if(char::is_ascii_digit) {
                    n.push(c);
                }
                let mut m = String::new();
                while let Some(d) = y.next_if(char::is_ascii_digit) {
                    m.push(d);
                }
                let (n, m) = (n.trim_start_matches('0'), m.trim_start_matches('0'));
                let ord = n.len().cmp(&m.len()).then_with(|| n.cmp(m));
                if ord != Ordering::Equal {
                    return ord;
                }
            }
            (Some(c), Some(d)) => {
                if c != d {
                    return c.cmp(&d);
                }
                x.next();
                y.next();
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// summary

fn plural(n: usize, one: &str, many: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {many}")
    }
}

fn verb(kind: ChangeKind) -> &'static str {
    match kind {
        ChangeKind::Added => "added",
        ChangeKind::Removed => "removed",
        ChangeKind::Changed => "changed",
    }
}

fn summarise(entries: &[Entry], work: &Work) -> String {
    if entries.is_empty() {
        return "No changes.".to_string();
    }
    let mut clauses: Vec<String> = Vec::new();
    let of = |entity: EntityKind| {
        work.add(entries.len());
        entries.iter().filter(move |e| e.change.entity == entity)
    };

    for e in of(EntityKind::App) {
        let shown: Vec<&str> = e
            .change
            .details
            .iter()
            .take(2)
            .map(String::as_str)
            .collect();
        clauses.push(format!("changed app settings ({})", shown.join(", ")));
    }
    for e in of(EntityKind::Page) {
        clauses.push(format!("{} page {}", verb(e.change.kind), e.label));
    }
    for kind in [ChangeKind::Added, ChangeKind::Removed, ChangeKind::Changed] {
        let ids: Vec<String> = of(EntityKind::Component)
            .filter(|e| e.change.kind == kind)
            .map(|e| format!("\"{}\"", e.label))
            .collect();
        match ids.len() {
            0 => {}
            1 => clauses.push(format!("{} component {}", verb(kind), ids[0])),
            2 | 3 => clauses.push(format!("{} components {}", verb(kind), ids.join(", "))),
            n => clauses.push(format!("{} {n} components", verb(kind))),
        }
    }
    // Data models: one clause per model, field changes folded in.
    struct ModelClause {
        name: String,
        kind: ChangeKind,
        fields: [usize; 3],
    }
    let mut models: Vec<ModelClause> = Vec::new();
    // model key → its clause, so folding a field in is one lookup
    let mut model_at: HashMap<String, usize> = HashMap::new();
    for e in of(EntityKind::DataModel) {
        model_at.insert(e.change.id.clone(), models.len());
        models.push(ModelClause {
            name: e.label.clone(),
            kind: e.change.kind,
            fields: [0; 3],
        });
    }
    for e in of(EntityKind::Field) {
        let Some((key, name)) = &e.model else {
            continue;
        };
        let slot = match e.change.kind {
            ChangeKind::Added => 0,
            ChangeKind::Removed => 1,
            ChangeKind::Changed => 2,
        };
        match model_at.get(key).and_then(|&i| models.get_mut(i)) {
            Some(m) => m.fields[slot] += 1,
            None => {
                let mut fields = [0; 3];
                fields[slot] = 1;
                model_at.insert(key.clone(), models.len());
                models.push(ModelClause {
                    name: name.clone(),
                    kind: ChangeKind::Changed,
                    fields,
                });
            }
        }
    }
    for m in models {
        let mut parts = Vec::new();
        for (n, what) in m.fields.iter().zip(["added", "removed", "changed"]) {
            if *n > 0 {
                parts.push(format!("{} {what}", plural(*n, "field", "fields")));
            }
        }
        if parts.is_empty() {
            clauses.push(format!("{} data model \"{}\"", verb(m.kind), m.name));
        } else {
            clauses.push(format!(
                "{} data model \"{}\" ({})",
                verb(m.kind),
                m.name,
                parts.join(", ")
            ));
        }
    }
    for e in of(EntityKind::Flow) {
        clauses.push(format!("{} flow \"{}\"", verb(e.change.kind), e.label));
    }
    for e in of(EntityKind::PermissionRule) {
        clauses.push(format!(
            "{} permission rule for \"{}\"",
            verb(e.change.kind),
            e.label
        ));
    }
    for e in of(EntityKind::Role) {
        clauses.push(format!("{} role \"{}\"", verb(e.change.kind), e.label));
    }
    let text = clauses.join("; ");
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => format!("{}{}.", first.to_uppercase(), chars.as_str()),
        None => "No changes.".to_string(),
    }
}

#[cfg(test)]
mod tests;
