//! The untyped configuration tree the loader merges layers into, and a serde deserializer that turns it
//! into `Settings`, coercing string scalars to the requested type and naming the key on every error.

use serde::de::{self, DeserializeSeed, IntoDeserializer, MapAccess, SeqAccess, Visitor};
use std::collections::BTreeMap;
use std::fmt;

/// One node of the configuration tree. Every scalar is kept as its text; the target type decides how it
/// is read, so `"5432"` from an environment variable and `5432` from YAML mean the same thing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    Null,
    Str(String),
    Seq(Vec<Node>),
    Map(BTreeMap<String, Node>),
}

impl Node {
    /// Converts a parsed YAML document; non-string mapping keys become their text.
    pub fn from_yaml(value: serde_yaml::Value) -> Result<Node, String> {
        use serde_yaml::Value;
        Ok(match value {
            Value::Null => Node::Null,
            Value::Bool(b) => Node::Str(b.to_string()),
            Value::Number(n) => Node::Str(n.to_string()),
            Value::String(s) => Node::Str(s),
            Value::Sequence(items) => Node::Seq(
                items
                    .into_iter()
                    .map(Node::from_yaml)
                    .collect::<Result<_, _>>()?,
            ),
            Value::Mapping(map) => {
                let mut out = BTreeMap::new();
                for (k, v) in map {
                    let key = match k {
                        Value::String(s) => s,
                        Value::Bool(b) => b.to_string(),
                        Value::Number(n) => n.to_string(),
                        other => return Err(format!("unsupported mapping key {other:?}")),
                    };
                    out.insert(key, Node::from_yaml(v)?);
                }
                Node::Map(out)
            }
            Value::Tagged(tagged) => Node::from_yaml(tagged.value)?,
        })
    }

    /// Deep-merges `overlay` into `self`: mappings merge key by key, anything else replaces.
    pub fn merge(&mut self, overlay: Node) {
        match (self, overlay) {
            (Node::Map(base), Node::Map(over)) => {
                for (k, v) in over {
                    match base.get_mut(&k) {
                        Some(existing) => existing.merge(v),
                        None => {
                            base.insert(k, v);
                        }
                    }
                }
            }
            (slot, over) => *slot = over,
        }
    }

    /// The paths of every leaf (scalar, null or sequence), depth first in key order.
    pub fn leaf_paths(&self) -> Vec<Vec<String>> {
        fn walk(node: &Node, path: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
            match node {
                Node::Map(map) => {
                    for (k, v) in map {
                        path.push(k.clone());
                        walk(v, path, out);
                        path.pop();
                    }
                }
                _ => out.push(path.clone()),
            }
        }
        let mut out = Vec::new();
        walk(self, &mut Vec::new(), &mut out);
        out
    }

    /// The node at a path, mutable.
    pub fn get_mut(&mut self, path: &[String]) -> Option<&mut Node> {
        let mut node = self;
        for segment in path {
            match node {
                Node::Map(map) => node = map.get_mut(segment)?,
                _ => return None,
            }
        }
        Some(node)
    }

    /// The node at a dotted path, if any.
    #[cfg(test)]
    pub fn get(&self, path: &[&str]) -> Option<&Node> {
        let mut node = self;
        for segment in path {
            match node {
                Node::Map(map) => node = map.get(*segment)?,
                _ => return None,
            }
        }
        Some(node)
    }
}

/// Splits a comma-separated value into a sequence (how environment variables and `--set` fill lists).
pub fn split_list(value: &str) -> Node {
    Node::Seq(
        value
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| Node::Str(s.to_owned()))
            .collect(),
    )
}

/// A deserialization failure, with the dotted key it happened at.
#[derive(Debug)]
pub struct DeError {
    pub key: Option<String>,
    pub message: String,
    /// Set by `missing_field`; appended to the key of the struct that lacks it.
    missing: Option<String>,
}

impl fmt::Display for DeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.key {
            Some(key) => write!(f, "{key}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for DeError {}

impl de::Error for DeError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        DeError {
            key: None,
            message: msg.to_string(),
            missing: None,
        }
    }

    fn missing_field(field: &'static str) -> Self {
        DeError {
            key: None,
            message: "the key is missing".to_owned(),
            missing: Some(field.to_owned()),
        }
    }
}

/// Deserializes a value of `T` from the tree; `path` is the dotted key of `node` (empty for the root).
#[cfg(test)]
pub fn deserialize<T: de::DeserializeOwned>(node: Node, path: &str) -> Result<T, DeError> {
    deserialize_noting_unknown(node, path).map(|(value, _)| value)
}

thread_local! {
    /// Dotted keys `T` skipped during the current `deserialize_noting_unknown` on this thread.
    static IGNORED: std::cell::RefCell<Vec<String>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// [`deserialize`], also returning the dotted keys present in the tree that `T` has no field for
/// (sections are reported once, not leaf by leaf), in tree order.
pub fn deserialize_noting_unknown<T: de::DeserializeOwned>(
    node: Node,
    path: &str,
) -> Result<(T, Vec<String>), DeError> {
    let outer = IGNORED.with(|ignored| std::mem::take(&mut *ignored.borrow_mut()));
    let result = T::deserialize(NodeDe {
        node,
        path: path.to_owned(),
    });
    let unknown = IGNORED.with(|ignored| std::mem::replace(&mut *ignored.borrow_mut(), outer));
    result.map(|value| (value, unknown))
}

struct NodeDe {
    node: Node,
    path: String,
}

fn child_path(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_owned()
    } else {
        format!("{parent}.{key}")
    }
}

impl NodeDe {
    /// Attaches this node's key to an error that does not have one yet.
    fn locate(&self, mut err: DeError) -> DeError {
        if err.key.is_none() {
            err.key = Some(match err.missing.take() {
                Some(field) => child_path(&self.path, &field),
                None => self.path.clone(),
            });
        }
        err
    }

    fn scalar(&self, expected: &str) -> Result<&str, DeError> {
        match &self.node {
            Node::Str(s) => Ok(s.trim()),
            Node::Null => Err(self.locate(de::Error::custom(format!(
                "expected {expected}, found an empty value"
            )))),
            Node::Seq(_) => Err(self.locate(de::Error::custom(format!(
                "expected {expected}, found a list"
            )))),
            Node::Map(_) => Err(self.locate(de::Error::custom(format!(
                "expected {expected}, found a mapping"
            )))),
        }
    }

    fn parse<T: std::str::FromStr>(&self, expected: &str) -> Result<T, DeError>
    where
        T::Err: fmt::Display,
    {
        let text = self.scalar(expected)?;
        text.parse::<T>().map_err(|e| {
            self.locate(de::Error::custom(format!(
                "expected {expected}, found {text:?} ({e})"
            )))
        })
    }
}

macro_rules! number {
    ($method:ident, $visit:ident, $ty:ty, $what:expr) => {
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
            let value: $ty = self.parse($what)?;
            visitor.$visit(value).map_err(|e| self.locate(e))
        }
    };
}

impl<'de> de::Deserializer<'de> for NodeDe {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self.node {
            Node::Null => visitor.visit_unit(),
            Node::Str(_) => self.deserialize_string(visitor),
            Node::Seq(_) => self.deserialize_seq(visitor),
            Node::Map(_) => self.deserialize_map(visitor),
        }
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        let text = self.scalar("true or false")?.to_ascii_lowercase();
        let value = match text.as_str() {
            "true" | "yes" | "on" | "1" => true,
            "false" | "no" | "off" | "0" => false,
            _ => {
                return Err(self.locate(de::Error::custom(format!(
                    "expected true or false, found {text:?}"
                ))))
            }
        };
        visitor.visit_bool(value).map_err(|e| self.locate(e))
    }

    number!(deserialize_i8, visit_i8, i8, "an integer");
    number!(deserialize_i16, visit_i16, i16, "an integer");
    number!(deserialize_i32, visit_i32, i32, "an integer");
    number!(deserialize_i64, visit_i64, i64, "an integer");
    number!(deserialize_u8, visit_u8, u8, "an integer from 0 to 255");
    number!(
        deserialize_u16,
        visit_u16,
        u16,
        "an integer from 0 to 65535"
    );
    number!(deserialize_u32, visit_u32, u32, "a non-negative integer");
    number!(deserialize_u64, visit_u64, u64, "a non-negative integer");
    number!(deserialize_f32, visit_f32, f32, "a number");
    number!(deserialize_f64, visit_f64, f64, "a number");
    number!(deserialize_char, visit_char, char, "a single character");

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_string(visitor)
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        let text = match &self.node {
            Node::Null => String::new(),
            Node::Str(s) => s.clone(),
            _ => self.scalar("a string")?.to_owned(),
        };
        visitor.visit_string(text).map_err(|e| self.locate(e))
    }

    fn deserialize_bytes<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_string(visitor)
    }

    fn deserialize_byte_buf<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_string(visitor)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match &self.node {
            Node::Null => visitor.visit_none(),
            Node::Str(s) if s.trim().is_empty() => visitor.visit_none(),
            _ => {
                let path = self.path.clone();
                visitor
                    .visit_some(self)
                    .map_err(|e| NodeDe::locate_at(e, &path))
            }
        }
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_unit()
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        visitor.visit_unit()
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        let items = match self.node {
            Node::Null => Vec::new(),
            Node::Seq(items) => items,
            Node::Str(ref s) => match split_list(s) {
                Node::Seq(items) => items,
                _ => Vec::new(),
            },
            Node::Map(_) => {
                return Err(self.locate(de::Error::custom("expected a list, found a mapping")))
            }
        };
        let path = self.path;
        let access = SeqDe {
            items: items.into_iter().enumerate(),
            path: path.clone(),
        };
        visitor
            .visit_seq(access)
            .map_err(|e| NodeDe::locate_at(e, &path))
    }

    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        let map = match self.node {
            Node::Null => BTreeMap::new(),
            Node::Map(map) => map,
            Node::Str(ref s) if s.trim().is_empty() => BTreeMap::new(),
            _ => {
                return Err(self.locate(de::Error::custom(format!(
                    "expected a mapping of keys, found {}",
                    describe(&self.node)
                ))))
            }
        };
        let path = self.path;
        let access = MapDe {
            entries: map.into_iter(),
            value: None,
            path: path.clone(),
        };
        visitor
            .visit_map(access)
            .map_err(|e| NodeDe::locate_at(e, &path))
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        self.deserialize_map(visitor)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        let text = self.scalar("one of the allowed words")?.to_owned();
        let path = self.path.clone();
        let access: de::value::StringDeserializer<DeError> = text.into_deserializer();
        visitor
            .visit_enum(access)
            .map_err(|e| NodeDe::locate_at(e, &path))
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_string(visitor)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        IGNORED.with(|ignored| ignored.borrow_mut().push(self.path));
        visitor.visit_unit()
    }
}

impl NodeDe {
    fn locate_at(err: DeError, path: &str) -> DeError {
        NodeDe {
            node: Node::Null,
            path: path.to_owned(),
        }
        .locate(err)
    }
}

fn describe(node: &Node) -> &'static str {
    match node {
        Node::Null => "an empty value",
        Node::Str(_) => "a single value",
        Node::Seq(_) => "a list",
        Node::Map(_) => "a mapping",
    }
}

struct SeqDe {
    items: std::iter::Enumerate<std::vec::IntoIter<Node>>,
    path: String,
}

impl<'de> SeqAccess<'de> for SeqDe {
    type Error = DeError;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, DeError> {
        match self.items.next() {
            Some((index, node)) => seed
                .deserialize(NodeDe {
                    node,
                    path: format!("{}[{index}]", self.path),
                })
                .map(Some),
            None => Ok(None),
        }
    }
}

struct MapDe {
    entries: std::collections::btree_map::IntoIter<String, Node>,
    value: Option<(String, Node)>,
    path: String,
}

impl<'de> MapAccess<'de> for MapDe {
    type Error = DeError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, DeError> {
        match self.entries.next() {
            Some((key, value)) => {
                let path = child_path(&self.path, &key);
                self.value = Some((path.clone(), value));
                seed.deserialize(NodeDe {
                    node: Node::Str(key),
                    path,
                })
                .map(Some)
            }
            None => Ok(None),
        }
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, DeError> {
        match self.value.take() {
            // Errors raised by a field's own deserializer (`deserialize_with`) carry no key yet:
            // they belong to this value, not to the enclosing section.
            Some((path, node)) => seed
                .deserialize(NodeDe {
                    node,
                    path: path.clone(),
                })
                .map_err(|e| NodeDe::locate_at(e, &path)),
            None => Err(de::Error::custom("value requested before its key")),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "kebab-case")]
    struct Inner {
        port: u16,
        enabled: bool,
        names: Vec<String>,
        label: String,
    }

    #[derive(Debug, Deserialize)]
    struct Outer {
        inner: Inner,
    }

    fn yaml(text: &str) -> Node {
        Node::from_yaml(serde_yaml::from_str(text).unwrap()).unwrap()
    }

    #[test]
    fn unknown_keys_are_reported_once_per_section_and_field_errors_name_their_key() {
        #[derive(Debug, Deserialize)]
        struct Small {
            port: u16,
        }
        #[derive(Debug, Deserialize)]
        struct Top {
            small: Small,
        }
        let yaml = "small:\n  port: 8\n  extra: 1\nother:\n  a: 1\n  b: 2\n";
        let node = Node::from_yaml(serde_yaml::from_str(yaml).unwrap()).unwrap();
        let (top, unknown): (Top, _) = deserialize_noting_unknown(node, "").unwrap();
        assert_eq!(top.small.port, 8);
        assert_eq!(unknown, ["other", "small.extra"]);

        fn never<'de, D: serde::Deserializer<'de>>(d: D) -> Result<u16, D::Error> {
            let _ = String::deserialize(d)?;
            Err(serde::de::Error::custom("refused"))
        }
        #[derive(Debug, Deserialize)]
        struct Custom {
            #[serde(deserialize_with = "never")]
            _size: u16,
        }
        #[derive(Debug, Deserialize)]
        struct Wrap {
            _inner: Custom,
        }
        let node = Node::from_yaml(serde_yaml::from_str("_inner:\n  _size: x\n").unwrap()).unwrap();
        let err = deserialize_noting_unknown::<Wrap>(node, "").unwrap_err();
        assert_eq!(err.key.as_deref(), Some("_inner._size"));
    }

    #[test]
    fn strings_are_coerced_to_the_target_type() {
        let node = yaml("inner: {port: '8081', enabled: 'off', names: 'a, b,,c', label: 42}");
        let outer: Outer = deserialize(node, "").unwrap();
        assert_eq!(outer.inner.port, 8081);
        assert!(!outer.inner.enabled);
        assert_eq!(outer.inner.names, ["a", "b", "c"]);
        assert_eq!(outer.inner.label, "42");
    }

    #[test]
    fn errors_name_the_key() {
        let node = yaml("inner: {port: 70000, enabled: true, names: [], label: x}");
        let err = deserialize::<Outer>(node, "").unwrap_err();
        assert_eq!(err.key.as_deref(), Some("inner.port"));
        assert!(err.message.contains("70000"), "{err}");

        let node = yaml("inner: {port: 1, enabled: true, names: []}");
        let err = deserialize::<Outer>(node, "").unwrap_err();
        assert_eq!(err.key.as_deref(), Some("inner.label"));
    }

    #[test]
    fn merge_is_deep() {
        let mut base = yaml("a: {b: 1, c: [1, 2]}\nd: x");
        base.merge(yaml("a: {c: [3]}\ne: y"));
        assert_eq!(base.get(&["a", "b"]), Some(&Node::Str("1".into())));
        assert_eq!(
            base.get(&["a", "c"]),
            Some(&Node::Seq(vec![Node::Str("3".into())]))
        );
        assert_eq!(base.get(&["d"]), Some(&Node::Str("x".into())));
        assert_eq!(base.get(&["e"]), Some(&Node::Str("y".into())));
    }
}
