//! `app asyncapi`: formats, versions, files, and the contract check (`--check FILE`).

use std::path::{Path, PathBuf};

use asyncfast::prelude::*;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Value, json};

#[derive(Deserialize, JsonSchema)]
#[allow(dead_code)] // the payload's schema is what matters here
struct Order {
    id: String,
    total: u64,
}

/// Takes orders.
#[channel("orders")]
async fn on_order(order: Payload<Order>, correlation_id: Header<String>) {
    let _ = (order, correlation_id);
}

fn app() -> AsyncFast {
    AsyncFast::empty()
        .title("Orders")
        .version("1.0.0")
        .channel(handler!(on_order))
}

/// A scratch directory, removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("asyncfast-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }

    fn path(&self, file: &str) -> PathBuf {
        self.0.join(file)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

async fn asyncapi(app: AsyncFast, args: &[&str]) -> Result<(), asyncfast::Error> {
    let mut command_line = vec!["app", "asyncapi"];
    command_line.extend_from_slice(args);
    app.run_with_args(command_line).await
}

fn read_json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[tokio::test]
async fn writes_json_and_yaml() {
    let scratch = Scratch::new("formats");
    let json_path = scratch.path("doc.json");
    let yaml_path = scratch.path("doc.yaml");
    let forced = scratch.path("doc.txt");
    asyncapi(app(), &["--output", json_path.to_str().unwrap()])
        .await
        .unwrap();
    // `.yaml` picks YAML; `--format` says so explicitly.
    asyncapi(app(), &["--output", yaml_path.to_str().unwrap()])
        .await
        .unwrap();
    asyncapi(
        app(),
        &["--format", "yaml", "--output", forced.to_str().unwrap()],
    )
    .await
    .unwrap();
    let json_text = std::fs::read_to_string(&json_path).unwrap();
    assert!(json_text.starts_with("{\n  \"asyncapi\": \"3.0.0\""));
    let yaml_text = std::fs::read_to_string(&yaml_path).unwrap();
    assert!(yaml_text.starts_with("asyncapi: 3.0.0\n"), "{yaml_text}");
    assert_eq!(std::fs::read_to_string(&forced).unwrap(), yaml_text);
    let from_yaml: Value = serde_norway::from_str(&yaml_text).unwrap();
    assert_eq!(from_yaml, read_json(&json_path));
    assert_eq!(read_json(&json_path), app().asyncapi());
}

#[tokio::test]
async fn writes_the_chosen_spec_version() {
    let scratch = Scratch::new("version");
    let path = scratch.path("doc.json");
    asyncapi(
        app(),
        &[
            "--spec-version",
            "3.1.0",
            "--output",
            path.to_str().unwrap(),
        ],
    )
    .await
    .unwrap();
    assert_eq!(read_json(&path)["asyncapi"], "3.1.0");
}

#[tokio::test]
async fn check_passes_on_the_same_or_an_additive_document() {
    let scratch = Scratch::new("check-pass");
    let committed = scratch.path("committed.json");
    asyncapi(app(), &["--output", committed.to_str().unwrap()])
        .await
        .unwrap();
    asyncapi(app(), &["--check", committed.to_str().unwrap()])
        .await
        .unwrap();

    // A committed document from before the channel existed: everything is additive.
    let mut before = app().asyncapi();
    before["channels"] = json!({});
    before["operations"] = json!({});
    before["components"] = json!({"messages": {}});
    let path = scratch.path("before.json");
    std::fs::write(&path, serde_json::to_string(&before).unwrap()).unwrap();
    asyncapi(app(), &["--check", path.to_str().unwrap()])
        .await
        .unwrap();

    // A committed document (in YAML) without the `correlation-id` header.
    let mut older = app().asyncapi();
    older["components"]["schemas"]["OnOrderMessageHeaders"]["properties"]
        .as_object_mut()
        .unwrap()
        .remove("correlation-id");
    older["components"]["schemas"]["OnOrderMessageHeaders"]["required"] = json!([]);
    let yaml = scratch.path("older.yaml");
    std::fs::write(&yaml, serde_norway::to_string(&older).unwrap()).unwrap();
    // A new *required* header is breaking, though: the committed document must say so.
    let error = asyncapi(app(), &["--check", yaml.to_str().unwrap()])
        .await
        .unwrap_err();
    assert!(
        matches!(&error, asyncfast::Error::AsyncApi(e) if e.is_breaking()),
        "{error}"
    );
}

#[tokio::test]
async fn check_fails_on_a_breaking_change() {
    let scratch = Scratch::new("check-fail");
    let committed = scratch.path("committed.json");
    let mut newer = app().asyncapi();
    newer["channels"]
        .as_object_mut()
        .unwrap()
        .insert("Refunds".into(), json!({"address": "refunds"}));
    newer["components"]["schemas"]["Order"]["properties"]["currency"] = json!({"type": "string"});
    std::fs::write(&committed, serde_json::to_string(&newer).unwrap()).unwrap();
    let error = asyncapi(app(), &["--check", committed.to_str().unwrap()])
        .await
        .unwrap_err();
    let asyncfast::Error::AsyncApi(error) = error else {
        panic!("not an AsyncAPI error: {error}");
    };
    assert!(error.is_breaking());
    assert!(
        error
            .to_string()
            .starts_with("2 breaking change(s) to the AsyncAPI document"),
        "{error}"
    );
}

#[tokio::test]
async fn check_reports_an_unreadable_document() {
    let scratch = Scratch::new("check-bad");
    let committed = scratch.path("committed.json");
    std::fs::write(&committed, "{ not json").unwrap();
    let error = asyncapi(app(), &["--check", committed.to_str().unwrap()])
        .await
        .unwrap_err();
    let asyncfast::Error::AsyncApi(error) = error else {
        panic!("not an AsyncAPI error: {error}");
    };
    assert!(!error.is_breaking());
    assert!(
        error.to_string().contains("is not an AsyncAPI document"),
        "{error}"
    );
    let missing = scratch.path("missing.json");
    let error = asyncapi(app(), &["--check", missing.to_str().unwrap()])
        .await
        .unwrap_err();
    assert!(error.to_string().contains("cannot read"), "{error}");
}
