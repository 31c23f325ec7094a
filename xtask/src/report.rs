//! Terminal tables, JSON and JUnit output.

use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};
use serde::Serialize;

/// An error whose message was already printed, so that a closing line such as
/// `docker-test: 3 passed, 1 failed` stays the last line of the output.
#[derive(Debug)]
pub struct AlreadyReported;

impl std::fmt::Display for AlreadyReported {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("failed (reported above)")
    }
}

impl std::error::Error for AlreadyReported {}

/// One testcase of the report: a check, a suite, a threshold.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    pub group: String,
    pub name: String,
    pub variant: String,
    pub passed: bool,
    pub detail: String,
    pub seconds: f64,
    /// Output kept for failures (JUnit system-out).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log: Option<String>,
}

pub fn summary_table(outcomes: &[Outcome]) -> String {
    let rows: Vec<Vec<String>> = outcomes
        .iter()
        .map(|o| {
            let detail: String = o.detail.chars().take(90).collect();
            vec![
                o.group.clone(),
                o.name.clone(),
                o.variant.clone(),
                if o.passed {
                    "pass".into()
                } else {
                    "FAIL".into()
                },
                detail,
            ]
        })
        .collect();
    table(&["check", "name", "variant", "result", "detail"], &rows)
}

pub fn closing_line(command: &str, outcomes: &[Outcome]) -> String {
    let passed = outcomes.iter().filter(|o| o.passed).count();
    format!(
        "{command}: {passed} passed, {} failed",
        outcomes.len() - passed
    )
}

fn xml_escape(s: &str) -> String {
    s.chars()
        .filter(|c| !c.is_control() || matches!(c, '\n' | '\t'))
        .collect::<String>()
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

pub fn junit(suite: &str, outcomes: &[Outcome]) -> String {
    let failures = outcomes.iter().filter(|o| !o.passed).count();
    let total: f64 = outcomes.iter().map(|o| o.seconds).sum();
    let mut x = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites tests=\"{}\" failures=\"{failures}\" time=\"{total:.3}\">\n<testsuite name=\"{}\" tests=\"{}\" failures=\"{failures}\" errors=\"0\" time=\"{total:.3}\">\n",
        outcomes.len(),
        xml_escape(suite),
        outcomes.len()
    );
    for o in outcomes {
        x.push_str(&format!(
            "  <testcase classname=\"{}.{}\" name=\"{}\" time=\"{:.3}\">",
            xml_escape(&o.variant),
            xml_escape(&o.group),
            xml_escape(&o.name),
            o.seconds
        ));
        if !o.passed {
            x.push_str(&format!("<failure message=\"{}\"/>", xml_escape(&o.detail)));
            if let Some(log) = &o.log {
                x.push_str(&format!("<system-out>{}</system-out>", xml_escape(log)));
            }
        }
        x.push_str("</testcase>\n");
    }
    x.push_str("</testsuite>\n</testsuites>\n");
    x
}

/// Write `contents` atomically: temp file in the same dir, then rename.
pub fn write_atomic(path: &Path, contents: &str) -> Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("out");
    let tmp = dir.join(format!(".{name}.xtask-tmp"));
    std::fs::write(&tmp, contents).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path)
        .with_context(|| format!("renaming {} to {}", tmp.display(), path.display()))
}

/// 1 MB = 1,000,000 bytes, as the engine reports sizes.
pub fn mb(bytes: u64) -> f64 {
    bytes as f64 / 1_000_000.0
}

pub fn secs(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s >= 60.0 {
        format!("{}m{:02}s", (s / 60.0) as u64, (s % 60.0) as u64)
    } else {
        format!("{s:.1}s")
    }
}

/// Days since 1970-01-01 -> (year, month, day) (Howard Hinnant's civil_from_days).
fn civil(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

pub fn now_rfc3339() -> String {
    let s = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0) as i64;
    let (y, mo, d) = civil(s.div_euclid(86_400));
    let r = s.rem_euclid(86_400);
    format!(
        "{y:04}-{mo:02}-{d:02}T{:02}:{:02}:{:02}Z",
        r / 3600,
        r % 3600 / 60,
        r % 60
    )
}

/// Aligned plain-text table.
pub fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut w: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            if i < w.len() {
                w[i] = w[i].max(c.chars().count());
            }
        }
    }
    let line = |cells: Vec<&str>| -> String {
        let mut s = String::new();
        for (i, c) in cells.iter().enumerate() {
            let pad = w[i].saturating_sub(c.chars().count());
            s.push_str(c);
            if i + 1 < cells.len() {
                s.push_str(&" ".repeat(pad));
                s.push_str(" | ");
            }
        }
        s.trim_end().to_string() + "\n"
    };
    let mut out = line(headers.to_vec());
    out.push_str(
        &(w.iter()
            .map(|n| "-".repeat(*n))
            .collect::<Vec<_>>()
            .join("-+-")
            + "\n"),
    );
    for r in rows {
        out.push_str(&line(r.iter().map(String::as_str).collect()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates() {
        assert_eq!(civil(0), (1970, 1, 1));
        assert_eq!(civil(19_723), (2024, 1, 1));
        assert_eq!(civil(11_016), (2000, 2, 29));
    }

    #[test]
    fn megabytes_are_decimal() {
        assert_eq!(mb(250_000_000), 250.0);
    }

    fn o(name: &str, passed: bool) -> Outcome {
        Outcome {
            group: "command".into(),
            name: name.into(),
            variant: "slim".into(),
            passed,
            detail: "a <b> & \"c\"".into(),
            seconds: 0.5,
            log: None,
        }
    }

    #[test]
    fn closing_line_shape() {
        assert_eq!(
            closing_line("docker-test", &[o("a", true), o("b", false)]),
            "docker-test: 1 passed, 1 failed"
        );
    }

    #[test]
    fn junit_counts_and_escapes() {
        let x = junit("docker-test", &[o("a", true), o("b", false)]);
        assert!(x.contains("tests=\"2\" failures=\"1\""), "{x}");
        assert!(
            x.contains("<failure message=\"a &lt;b&gt; &amp; &quot;c&quot;\"/>"),
            "{x}"
        );
        assert_eq!(x.matches("<testcase ").count(), 2);
    }

    #[test]
    fn summary_marks_failures() {
        let t = summary_table(&[o("a", true), o("b", false)]);
        assert!(t.contains("| pass   |") && t.contains("| FAIL   |"), "{t}");
    }

    #[test]
    fn table_aligns() {
        let t = table(&["a", "bb"], &[vec!["xxx".into(), "y".into()]]);
        assert_eq!(t, "a   | bb\n----+---\nxxx | y\n");
    }
}
