//! Every string the kiosk shows through `@tr` has a Spanish translation, under the context
//! Slint looks it up by (the component it is in). A missing or mis-filed entry would show
//! English to a mentor who reads Spanish, silently.

use std::collections::BTreeSet;

const UI: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/ui");
const CATALOG: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/translations/es/LC_MESSAGES/kiosk.po"
);

/// (component, string) for every `@tr("…")` in the `.slint` files.
fn ui_strings() -> BTreeSet<(String, String)> {
    let mut found = BTreeSet::new();
    let mut files: Vec<_> = std::fs::read_dir(UI)
        .expect("ui dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "slint"))
        .collect();
    files.sort();
    for file in files {
        let text = std::fs::read_to_string(&file).expect("slint file");
        let mut component = String::new();
        for line in text.lines() {
            let decl = line.strip_prefix("export ").unwrap_or(line);
            if let Some(rest) = decl.strip_prefix("component ") {
                component = rest
                    .split(|c: char| c.is_whitespace() || c == '{')
                    .next()
                    .unwrap_or_default()
                    .to_owned();
            }
            for piece in line.split("@tr(\"").skip(1) {
                let text = piece.split('"').next().unwrap_or_default();
                found.insert((component.clone(), text.to_owned()));
            }
        }
    }
    found
}

/// (msgctxt, msgid) → msgstr from the catalog.
fn catalog() -> Vec<(String, String, String)> {
    let text = std::fs::read_to_string(CATALOG).expect("catalog");
    let quoted = |line: &str, key: &str| {
        line.strip_prefix(key)
            .map(|rest| rest.trim().trim_matches('"').to_owned())
    };
    let mut entries = Vec::new();
    let (mut ctx, mut id) = (None, None);
    for line in text.lines() {
        if let Some(c) = quoted(line, "msgctxt ") {
            ctx = Some(c);
        } else if let Some(i) = quoted(line, "msgid ") {
            id = Some(i);
        } else if let Some(s) = quoted(line, "msgstr ") {
            if let (Some(c), Some(i)) = (ctx.take(), id.take()) {
                entries.push((c, i, s));
            }
        }
    }
    entries
}

#[test]
fn every_ui_string_has_a_spanish_translation_in_its_component() {
    let strings = ui_strings();
    assert!(strings.len() > 50, "found only {} strings", strings.len());
    let entries = catalog();
    let missing: Vec<_> = strings
        .iter()
        .filter(|(c, s)| {
            !entries
                .iter()
                .any(|(ec, ei, es)| ec == c && ei == s && !es.is_empty())
        })
        .collect();
    assert!(missing.is_empty(), "untranslated: {missing:#?}");
    // Placeholders survive translation: "{}" counts match.
    for (c, id, s) in &entries {
        assert_eq!(
            id.matches("{}").count(),
            s.matches("{}").count(),
            "{c}: {id:?} → {s:?}"
        );
    }
    // No stale entries: each one is still used.
    let stale: Vec<_> = entries
        .iter()
        .filter(|(c, i, _)| !strings.contains(&(c.clone(), i.clone())))
        .collect();
    assert!(
        stale.is_empty(),
        "catalog entries no screen uses: {stale:#?}"
    );
}
