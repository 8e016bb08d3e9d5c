//! The committed reports in `reports/` match the schemas in `harness/schema/`
//! and the layout versions the code writes: `repro.json` against
//! `repro.schema.json`, and every fire step inside it against
//! `report.schema.json`.

use std::path::Path;

fn validator(schema: &str) -> jsonschema::Validator {
    let schema: serde_json::Value = serde_json::from_str(schema).unwrap();
    jsonschema::validator_for(&schema).expect("schema compiles")
}

fn errors(v: &jsonschema::Validator, json: &serde_json::Value) -> Vec<String> {
    v.iter_errors(json)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect()
}

#[test]
fn committed_repro_reports_match_the_schemas() {
    let repro = validator(include_str!("../schema/repro.schema.json"));
    let report = validator(include_str!("../schema/report.schema.json"));
    let reports = Path::new(env!("CARGO_MANIFEST_DIR")).join("../reports");
    let mut checked = 0;
    for entry in std::fs::read_dir(&reports).unwrap().flatten() {
        let path = entry.path().join("repro.json");
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        let json: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            json["schema_version"],
            racegate::repro::SCHEMA_VERSION,
            "{}",
            path.display()
        );
        let found = errors(&repro, &json);
        assert!(found.is_empty(), "{}: {found:#?}", path.display());
        for variant in json["variants"].as_array().unwrap() {
            for step in variant["steps"].as_array().unwrap() {
                assert_eq!(step["schema_version"], racegate::report::SCHEMA_VERSION);
                let found = errors(&report, step);
                assert!(found.is_empty(), "{}: {found:#?}", path.display());
            }
        }
        checked += 1;
    }
    assert!(checked >= 7, "only {checked} repro.json files in reports/");
}

#[test]
fn the_schema_rejects_what_it_should() {
    let repro = validator(include_str!("../schema/repro.schema.json"));
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../reports/locked-db/repro.json"),
    )
    .unwrap();
    let good: serde_json::Value = serde_json::from_str(&text).unwrap();
    let mut bad = good.clone();
    bad["variants"][0]["verdict"] = "detected-ish".into();
    assert!(!errors(&repro, &bad).is_empty());
    let mut bad = good;
    bad["variants"][0]["symptom"] = serde_json::json!({"contains": ""});
    assert!(!errors(&repro, &bad).is_empty());
}
