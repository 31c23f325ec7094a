//! pytest suites inside the variant's test image; JUnit XML copied back and counted.

use std::io::Read;
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context, Result};

use crate::engine::{Engine, RunSpec};
use crate::report::Outcome;

#[derive(Debug, Default, PartialEq, Eq)]
pub struct Counts {
    pub tests: u64,
    pub failures: u64,
    pub errors: u64,
    pub skipped: u64,
}

/// What one JUnit report says: the counts, and the failing cases by name.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Junit {
    pub counts: Counts,
    pub failing: Vec<String>,
}

/// Count testcases and their failure/error/skipped children.
pub fn parse_junit(xml: &str) -> Result<Junit> {
    let doc = roxmltree::Document::parse(xml).context("the JUnit XML does not parse")?;
    let mut junit = Junit::default();
    for case in doc.descendants().filter(|n| n.has_tag_name("testcase")) {
        junit.counts.tests += 1;
        let has = |tag: &str| case.children().any(|c| c.has_tag_name(tag));
        if has("failure") {
            junit.counts.failures += 1;
        } else if has("error") {
            junit.counts.errors += 1;
        } else if has("skipped") {
            junit.counts.skipped += 1;
            continue;
        } else {
            continue;
        }
        junit.failing.push(format!(
            "{}::{}",
            case.attribute("classname").unwrap_or_default(),
            case.attribute("name").unwrap_or_default()
        ));
    }
    Ok(junit)
}

fn file_from_tar(tar_bytes: &[u8]) -> Result<String> {
    let mut a = tar::Archive::new(tar_bytes);
    let mut entry = a
        .entries()
        .context("reading the copied archive")?
        .next()
        .ok_or_else(|| anyhow!("empty archive"))?
        .context("reading the copied archive")?;
    let mut s = String::new();
    entry
        .read_to_string(&mut s)
        .context("reading the JUnit XML")?;
    Ok(s)
}

pub fn run_suite(engine: &Engine, variant: &str, test_image: &str, suite: &str) -> Outcome {
    let started = Instant::now();
    let junit_path = format!("/tmp/junit-{suite}.xml");
    let argv: Vec<String> = [
        "python",
        "-m",
        "pytest",
        &format!("tests/{suite}"),
        "-p",
        "no:cacheprovider",
        "-q",
        &format!("--junitxml={junit_path}"),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    println!("pytest {variant}/{suite} in {test_image}");
    let r = engine.run(RunSpec {
        image: test_image,
        argv,
        workdir: Some("/app".into()),
        copy_out: Some(junit_path),
        timeout: Some(Duration::from_secs(1800)),
        ..Default::default()
    });
    let log_path = format!("target/xtask/logs/{variant}-{suite}.log");
    let mut o = Outcome {
        group: "pytest".into(),
        name: suite.into(),
        variant: variant.into(),
        passed: false,
        detail: String::new(),
        seconds: 0.0,
        log: None,
    };
    match r {
        Err(e) => o.detail = format!("{e:#}"),
        Ok(r) => {
            let _ = std::fs::create_dir_all("target/xtask/logs");
            let _ = std::fs::write(&log_path, &r.output);
            let junit = r
                .copied
                .as_deref()
                .map(|tar| file_from_tar(tar).and_then(|xml| parse_junit(&xml)));
            match junit {
                None | Some(Err(_)) => {
                    o.detail = format!("no JUnit XML (exit code {}); log: {log_path}", r.exit_code);
                }
                Some(Ok(Junit {
                    counts: c,
                    failing: bad,
                })) => {
                    o.passed = r.exit_code == 0 && c.tests > 0 && c.failures == 0 && c.errors == 0;
                    o.detail = format!(
                        "{} tests, {} failed, {} errors, {} skipped",
                        c.tests, c.failures, c.errors, c.skipped
                    );
                    if c.tests == 0 {
                        o.detail.push_str(" (a suite with no tests fails)");
                    } else if !o.passed && bad.is_empty() {
                        o.detail.push_str(&format!(" (exit code {})", r.exit_code));
                    }
                    if !bad.is_empty() {
                        o.detail.push_str(&format!(": {}", bad.join(", ")));
                    }
                }
            }
            if !o.passed {
                let lines: Vec<&str> = r.output.lines().collect();
                let tail = lines[lines.len().saturating_sub(40)..].join("\n");
                eprintln!("pytest {variant}/{suite} failed; last lines (full log: {log_path}):");
                for l in tail.lines() {
                    eprintln!("  | {l}");
                }
                o.log = Some(tail);
            }
        }
    }
    o.seconds = started.elapsed().as_secs_f64();
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    const XML: &str = r#"<?xml version="1.0"?><testsuites><testsuite name="pytest" tests="4">
<testcase classname="tests.unit.test_a" name="test_ok" time="0.1" />
<testcase classname="tests.unit.test_a" name="test_bad" time="0.1"><failure message="x">boom</failure></testcase>
<testcase classname="tests.unit.test_b" name="test_err" time="0.1"><error message="y"/></testcase>
<testcase classname="tests.unit.test_b" name="test_skip" time="0.1"><skipped message="z"/></testcase>
</testsuite></testsuites>"#;

    #[test]
    fn counts_cases() {
        assert_eq!(
            parse_junit(XML).unwrap().counts,
            Counts {
                tests: 4,
                failures: 1,
                errors: 1,
                skipped: 1
            }
        );
        assert_eq!(
            parse_junit("<testsuites><testsuite tests=\"0\"/></testsuites>")
                .unwrap()
                .counts
                .tests,
            0
        );
    }

    #[test]
    fn names_failing_cases() {
        assert_eq!(
            parse_junit(XML).unwrap().failing,
            vec!["tests.unit.test_a::test_bad", "tests.unit.test_b::test_err"]
        );
    }

    #[test]
    fn a_truncated_report_is_an_error_not_zero_tests() {
        assert!(parse_junit("<testsuites><testsuite><testcase name=\"a\"").is_err());
    }
}
