//! Sample AppSpecs compiled into the crate (`samples/*.json`): four written by the offline
//! generator and hand-written ones covering every component type and flow action, Chinese text,
//! hostile strings and the smallest possible app. Used by tests, benches and demos.

/// `(name, JSON text)` of every sample, in a fixed order.
pub const ALL: &[(&str, &str)] = &[
    ("minimal", include_str!("../samples/minimal.json")),
    (
        "every-component",
        include_str!("../samples/every-component.json"),
    ),
    ("chinese", include_str!("../samples/chinese.json")),
    ("hostile", include_str!("../samples/hostile.json")),
    (
        "offline-vocab-game",
        include_str!("../samples/offline-vocab-game.json"),
    ),
    (
        "offline-lab-reports",
        include_str!("../samples/offline-lab-reports.json"),
    ),
    (
        "offline-club-events",
        include_str!("../samples/offline-club-events.json"),
    ),
    (
        "offline-reading-log",
        include_str!("../samples/offline-reading-log.json"),
    ),
];

/// The JSON text of the sample called `name`.
pub fn get(name: &str) -> Option<&'static str> {
    ALL.iter().find(|(n, _)| *n == name).map(|(_, json)| *json)
}

/// Every sample parsed as JSON (samples are checked to parse by this crate's tests).
pub fn values() -> Vec<(&'static str, serde_json::Value)> {
    ALL.iter()
        .filter_map(|(name, json)| serde_json::from_str(json).ok().map(|v| (*name, v)))
        .collect()
}
