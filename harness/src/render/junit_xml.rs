//! JUnit XML through quick-junit: a suite of named cases, each passing or
//! failing with a message, for CI systems that show test results.

use std::time::Duration;

use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};

/// One test case.
#[derive(Clone, Debug, PartialEq)]
pub struct Case {
    /// The class name CI groups cases by.
    pub classname: String,
    /// What the case asserts, in words.
    pub name: String,
    /// Why it failed; `None` when it passed.
    pub failure: Option<String>,
    /// What was measured, shown as the case's output.
    pub output: String,
}

/// One suite of cases, rendered as a `<testsuites>` document.
#[derive(Clone, Debug, PartialEq)]
pub struct Suite {
    /// The suite's name.
    pub name: String,
    /// How long it took.
    pub time: Duration,
    /// Its cases, in order.
    pub cases: Vec<Case>,
}

impl Suite {
    /// The JUnit XML document.
    pub fn to_xml(&self) -> String {
        let mut report = Report::new("racegate");
        let mut suite = TestSuite::new(xml_text(&self.name));
        suite.set_time(self.time);
        for c in &self.cases {
            let status = match &c.failure {
                None => TestCaseStatus::success(),
                Some(message) => {
                    let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
                    s.set_message(xml_text(message));
                    s
                }
            };
            let mut case = TestCase::new(xml_text(&c.name), status);
            case.set_classname(xml_text(&c.classname));
            case.set_system_out(xml_text(&c.output));
            suite.add_test_case(case);
        }
        report.add_test_suite(suite);
        report
            .to_string()
            .unwrap_or_else(|e| unreachable!("an in-memory JUnit report serialises: {e}"))
    }
}

/// XML 1.0 forbids most control characters even when escaped; servers put
/// them in error messages anyway.
fn xml_text(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_control() && !matches!(c, '\n' | '\t' | '\r') {
                ' '
            } else {
                c
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_and_hostile_text_render_as_valid_xml() {
        let suite = Suite {
            name: "racegate <GET /x?a=1&b=2>".into(),
            time: Duration::from_millis(1500),
            cases: vec![
                Case {
                    classname: "racegate".into(),
                    name: "status is 2xx".into(),
                    failure: Some("3 of 10 failed: \"<oops>\" \u{1}".into()),
                    output: "3 of 10".into(),
                },
                Case {
                    classname: "racegate".into(),
                    name: "ok".into(),
                    failure: None,
                    output: String::new(),
                },
            ],
        };
        let xml = suite.to_xml();
        assert!(xml.contains("failures=\"1\""), "{xml}");
        assert!(xml.contains("tests=\"2\""), "{xml}");
        assert!(xml.contains("&lt;oops&gt;"), "{xml}");
    }
}
