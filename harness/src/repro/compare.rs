//! `--compare DIR`: do committed reports still hold? Each scenario's fresh
//! verdicts, symptoms and evidence (what the detection observed: the
//! cluster, history anomaly or state check, see `evidence.rs`) are compared
//! with `DIR/<scenario>/repro.json`; numbers may differ, the rest may not.

use std::path::Path;

use serde_json::Value;

use super::verdict::ScenarioReport;

/// One way a fresh run disagrees with a committed report.
pub fn differences(fresh: &ScenarioReport, committed_dir: &Path) -> Vec<String> {
    let path = committed_dir.join(&fresh.scenario).join("repro.json");
    let committed: Value = match std::fs::read_to_string(&path)
        .map_err(|e| e.to_string())
        .and_then(|t| serde_json::from_str(&t).map_err(|e| e.to_string()))
    {
        Ok(v) => v,
        Err(e) => return vec![format!("{}: no committed report ({e})", path.display())],
    };
    let mut out = Vec::new();
    let committed_variants = committed["variants"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    for v in &fresh.variants {
        let Some(old) = committed_variants
            .iter()
            .find(|o| o["name"] == v.name.as_str())
        else {
            out.push(format!(
                "{} / {}: not in {}",
                fresh.scenario,
                v.name,
                path.display()
            ));
            continue;
        };
        let verdict = serde_json::to_value(v.verdict).unwrap_or(Value::Null);
        if old["verdict"] != verdict {
            out.push(format!(
                "{} / {}: verdict {verdict}, committed {}",
                fresh.scenario, v.name, old["verdict"]
            ));
        }
        for (field, value) in [
            ("symptom", serde_json::to_value(&v.symptom)),
            ("evidence", serde_json::to_value(&v.evidence)),
        ] {
            let value = value.unwrap_or(Value::Null);
            if old[field] != value {
                out.push(format!(
                    "{} / {}: {field} {value}, committed {}",
                    fresh.scenario, v.name, old[field]
                ));
            }
        }
    }
    for old in &committed_variants {
        if !fresh
            .variants
            .iter()
            .any(|v| old["name"] == v.name.as_str())
        {
            out.push(format!(
                "{} / {}: committed but not run",
                fresh.scenario, old["name"]
            ));
        }
    }
    out
}
