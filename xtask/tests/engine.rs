//! Drives the real Docker engine with a small image of its own (scratch +
//! static busybox). Skips with a reason when no engine answers, fails when CI is set.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::process::Command;

use xtask::check::judge;
use xtask::context;
use xtask::engine::{BuildRequest, Engine, RunSpec};

const BUSYBOX: &str = "/bin/busybox";
const IMAGE: &str = "xtask-it-busybox:latest";

fn skip_or_fail(reason: &str) -> Option<Engine> {
    if std::env::var_os("CI").is_some() {
        panic!("CI is set and {reason}");
    }
    eprintln!("skipping: {reason}");
    None
}

fn engine() -> Option<Engine> {
    if !Path::new(BUSYBOX).is_file() {
        return skip_or_fail("no static busybox at /bin/busybox (apt-get install busybox-static)");
    }
    match Engine::connect() {
        Ok(e) => Some(e),
        Err(e) => skip_or_fail(&format!("no Docker engine answers: {e:#}")),
    }
}

fn tmpdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("xtask-it-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn build(engine: &Engine, dir: &Path, tag: &str) -> anyhow::Result<String> {
    let ctx = context::tar(dir, Some("Dockerfile"), &[])?;
    engine.build(
        BuildRequest {
            context: ctx,
            dockerfile: "Dockerfile",
            tag,
            target: None,
            build_args: HashMap::new(),
            labels: HashMap::from([("io.musicdl.xtask.test".into(), "1".into())]),
            no_cache: false,
        },
        &mut |_| {},
    )
}

fn busybox_image(engine: &Engine) {
    let dir = tmpdir("busybox");
    std::fs::copy(BUSYBOX, dir.join("busybox")).unwrap();
    std::fs::write(
        dir.join("Dockerfile"),
        "FROM scratch\nCOPY busybox /bin/busybox\n",
    )
    .unwrap();
    build(engine, &dir, IMAGE).expect("building the busybox test image");
    std::fs::remove_dir_all(&dir).unwrap();
}

fn find(engine: &Engine, image: &str) -> BTreeSet<String> {
    let r = engine
        .run(RunSpec {
            image,
            argv: vec![BUSYBOX.into(), "find".into(), "/ctx".into()],
            ..Default::default()
        })
        .expect("listing /ctx");
    assert_eq!(r.exit_code, 0, "{}", r.output);
    r.output
        .lines()
        .filter_map(|l| l.strip_prefix("/ctx/"))
        .map(str::to_string)
        .collect()
}

/// Files under `dir`, each holding its own path.
fn write_tree(dir: &Path, files: &[&str]) {
    for f in files {
        let p = dir.join(f);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, f).unwrap();
    }
}

/// A Dockerfile that copies the whole context to /ctx, for `find` to list.
fn write_copy_all_dockerfile(dir: &Path) {
    std::fs::write(
        dir.join("Dockerfile"),
        format!("FROM {IMAGE}\nCOPY . /ctx/\n"),
    )
    .unwrap();
}

fn set(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|s| s.to_string()).collect()
}

/// What our context tar puts into an image, checked against what the docker CLI
/// (classic builder) sends for the same folder when the CLI is there.
fn context_as_the_cli_sends_it(engine: &Engine, dir: &Path) -> BTreeSet<String> {
    build(engine, dir, "xtask-it-ours:latest").expect("building with our context");
    let ours = find(engine, "xtask-it-ours:latest");
    let cli = Command::new("docker")
        .args(["build", "-q", "-t", "xtask-it-ref:latest", "."])
        .current_dir(dir)
        .env("DOCKER_BUILDKIT", "0")
        .output();
    match cli {
        Ok(out) if out.status.success() => {
            let reference = find(engine, "xtask-it-ref:latest");
            assert_eq!(ours, reference, "our context differs from the docker CLI's");
        }
        _ if std::env::var_os("CI").is_some() => {
            panic!("the docker CLI could not build the reference image")
        }
        _ => eprintln!("docker CLI unavailable: compared with the expected list only"),
    }
    ours
}

#[test]
fn engine_checks_cleanup_and_dockerignore() {
    let Some(engine) = engine() else { return };
    busybox_image(&engine);

    // a command check, as check.rs runs it
    let r = engine
        .run(RunSpec {
            image: IMAGE,
            argv: vec![BUSYBOX.into(), "echo".into(), "hello from xtask".into()],
            ..Default::default()
        })
        .unwrap();
    assert!(
        judge(
            &r.output,
            r.exit_code,
            0,
            &["^hello from xtask$".into()],
            &[]
        )
        .is_ok(),
        "{}",
        r.output
    );
    let r = engine
        .run(RunSpec {
            image: IMAGE,
            argv: vec![
                BUSYBOX.into(),
                "sh".into(),
                "-c".into(),
                "echo oops >&2; exit 3".into(),
            ],
            ..Default::default()
        })
        .unwrap();
    assert_eq!(r.exit_code, 3);
    assert!(r.output.contains("oops"));

    // a failing build surfaces the engine's error
    let dir = tmpdir("fail");
    std::fs::write(
        dir.join("Dockerfile"),
        format!("FROM {IMAGE}\nRUN [\"/bin/busybox\", \"false\"]\n"),
    )
    .unwrap();
    let e = build(&engine, &dir, "xtask-it-fail:latest").unwrap_err();
    assert!(format!("{e:#}").contains("non-zero code"), "{e:#}");
    std::fs::remove_dir_all(&dir).unwrap();

    // .dockerignore: what our tar sends == what the docker CLI (classic builder) sends
    let dir = tmpdir("ignore");
    let files = [
        "a.pyc",
        "core/x.py",
        "core/x.pyc",
        "core/__pycache__/x.cpython-311.pyc",
        "deep/a/__pycache__/y",
        "target/debug/bin",
        "xtask/target/keep",
        "docs/readme.md",
        "docs/keep.md",
        "docs/sub/keep.md",
        "tests/unit/t.py",
        "tests/fixtures/f.wav",
        "build1.log",
        "build10.log",
        "a.txt",
        "c.txt",
        "secret",
        "notes/n.md",
        "dir/x",
        "dirx",
        "spaced name.txt",
        ".hidden",
    ];
    write_tree(&dir, &files);
    std::fs::write(
        dir.join(".dockerignore"),
        "# comment\n*.pyc\n**/__pycache__\n/target\ndocs/**\n!docs/keep.md\ntests\n!tests/fixtures\nbuild?.log\n[ab].txt\n./notes/../secret\ndir/\n  .hidden  \n",
    )
    .unwrap();
    write_copy_all_dockerfile(&dir);

    let ours = context_as_the_cli_sends_it(&engine, &dir);
    let expected = set(&[
        "core",
        "core/x.py",
        "core/x.pyc", // `*.pyc` does not cross a slash
        "docs",
        "docs/keep.md",
        "tests",
        "tests/fixtures",
        "tests/fixtures/f.wav",
        "build10.log",
        "c.txt",
        "notes",
        "notes/n.md",
        "xtask",
        "xtask/target",
        "xtask/target/keep",
        "deep",
        "deep/a",
        "dirx",
        "spaced name.txt",
        ".dockerignore",
        "Dockerfile",
    ]);
    assert_eq!(ours, expected);
    std::fs::remove_dir_all(&dir).unwrap();

    // the repository's own .dockerignore, on a tree with the junk a working copy gathers
    let dir = tmpdir("repo-ignore");
    write_tree(
        &dir,
        &[
            "core/config.py",
            "core/notes.orig",
            "core/.venv/lib/site-packages/y.py",
            "core/target/debug/blob",
            "tests/unit/test_a.py",
            "tests/big.bin",
            "tests/.env",
            "tests/node_modules/x/index.py",
            "docker/ffmpeg-build.sh",
            "docker/musicdl-entrypoint",
            "docker/notes.orig",
            "download.py",
            "README.md",
        ],
    );
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    std::fs::copy(repo.join(".dockerignore"), dir.join(".dockerignore")).unwrap();
    write_copy_all_dockerfile(&dir);
    let sent = context_as_the_cli_sends_it(&engine, &dir);
    let sent_files: BTreeSet<String> = sent.into_iter().filter(|p| dir.join(p).is_file()).collect();
    let expected = set(&[
        "core/config.py",
        "tests/unit/test_a.py",
        "docker/ffmpeg-build.sh",
        "docker/musicdl-entrypoint",
        "download.py",
        // the daemon drops the Dockerfile and .dockerignore when .dockerignore excludes them
    ]);
    assert_eq!(sent_files, expected);
    std::fs::remove_dir_all(&dir).unwrap();

    // every container the tool created is gone
    let left = engine.labelled_containers().unwrap();
    assert!(left.is_empty(), "containers left behind: {left:?}");

    for image in ["xtask-it-ref:latest", "xtask-it-ours:latest", IMAGE] {
        engine.remove_image(image).unwrap();
        assert!(
            engine.inspect(image).unwrap().is_none(),
            "{image} is still there"
        );
    }
}
