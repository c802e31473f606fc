//! The JSON Schemas checked in under `proto/` are the ones the Rust types generate.
//!
//! `KOOFILL_BLESS=1 cargo test -p koofill-model --test schemas` rewrites them.

use std::path::PathBuf;

use koofill_model::schemas::{render, schemas};

fn proto_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../proto")
}

#[test]
fn proto_schemas_are_current() {
    let bless = std::env::var_os("KOOFILL_BLESS").is_some_and(|v| v == "1");
    let mut stale = Vec::new();
    for (path, schema) in schemas() {
        let file = proto_dir().join(path);
        let expected = render(&schema).unwrap();
        if bless {
            std::fs::create_dir_all(file.parent().unwrap()).unwrap();
            std::fs::write(&file, &expected).unwrap();
            continue;
        }
        match std::fs::read_to_string(&file) {
            Ok(actual) if actual == expected => {}
            Ok(_) => stale.push(format!("{path} differs")),
            Err(e) => stale.push(format!("{path} cannot be read ({e})")),
        }
    }
    assert!(
        stale.is_empty(),
        "proto/ is stale; run KOOFILL_BLESS=1 cargo test -p koofill-model --test schemas\n  {}",
        stale.join("\n  ")
    );
}

#[test]
fn every_schema_has_a_distinct_path_under_a_folder() {
    let all = schemas();
    let mut paths: Vec<&str> = all.iter().map(|(p, _)| *p).collect();
    paths.sort_unstable();
    paths.dedup();
    assert_eq!(paths.len(), all.len());
    for path in paths {
        assert!(path.ends_with(".schema.json") && path.contains('/'), "{path}");
    }
}

#[test]
fn schemas_describe_the_wire_names() {
    let all = schemas();
    let find = |name: &str| render(&all.iter().find(|(p, _)| p.ends_with(name)).unwrap().1).unwrap();
    let basic = find("basic-request.schema.json");
    for word in ["\"activity\"", "\"newInstance\"", "\"orderLineId\"", "\"releaseLicenseCode\"", "\"productInfo\""] {
        assert!(basic.contains(word), "basic-request lacks {word}");
    }
    let envelope = find("envelope-inbound.schema.json");
    for word in ["\"occurred_at\"", "\"requested_at\"", "\"type\"", "\"data\"", "\"received_at\"", "\"kit_interface\""]
    {
        assert!(envelope.contains(word), "envelope-inbound lacks {word}");
    }
    let events = find("events.schema.json");
    for word in ["instance.active", "usage.window_pushed", "departments.synced"] {
        assert!(events.contains(word), "events lacks {word}");
    }
}
