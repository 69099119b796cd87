//! `#[channel]` recognises extractors by their type, not by what they are called: a renamed
//! import or a full path reads the same header or placeholder as the prelude's name, and a type of
//! the application's own that happens to be called `Header`, `Param` or `Payload` is just another
//! extractor.

use asyncfast::prelude::{AsyncFast, handler};
use asyncfast::testing::TestClient;
use asyncfast::{Handler, channel};

/// asyncfast's extractors under other names.
mod renamed {
    use asyncfast::Header as H;
    use asyncfast::Param as P;
    use asyncfast::channel;

    #[channel("orders.{region}")]
    pub(crate) async fn on_order(
        correlation_id: H<String>,
        region: P<String>,
        retry_count: asyncfast::extract::Header<u32>,
        #[header(alias = "Idempotency-Key")] key: asyncfast::extract::Header<Option<String>>,
        body: asyncfast::Payload<serde_json::Value>,
    ) -> Result<(), String> {
        let summary = format!(
            "{}|{}|{}|{:?}|{}",
            *correlation_id, *region, *retry_count, *key, *body
        );
        match summary.as_str() {
            "c-1|eu|2|Some(\"k-1\")|{\"id\":1}" => Ok(()),
            other => Err(format!("unexpected {other}")),
        }
    }
}

/// The same handler, written with the prelude's names.
mod prelude_names {
    use asyncfast::prelude::*;

    #[channel("orders.{region}")]
    pub(crate) async fn on_order(
        correlation_id: Header<String>,
        region: Param<String>,
        retry_count: Header<u32>,
        #[header(alias = "Idempotency-Key")] key: Header<Option<String>>,
        body: Payload<serde_json::Value>,
    ) {
        let _ = (correlation_id, region, retry_count, key, body);
    }
}

/// Types of the application's own that share the names of asyncfast's extractors.
mod lookalike {
    use std::convert::Infallible;

    use asyncfast::MessageContext;
    use asyncfast::extract::{FromMessage, ParamSpec};

    /// Not a header: the address the message arrived on.
    pub(crate) struct Header(pub(crate) String);

    impl FromMessage for Header {
        type Rejection = Infallible;

        async fn from_message(
            ctx: &mut MessageContext<'_>,
            _spec: &'static ParamSpec,
        ) -> Result<Self, Self::Rejection> {
            Ok(Header(ctx.address().to_owned()))
        }
    }

    /// Not the payload: its length.
    pub(crate) struct Payload(pub(crate) usize);

    impl FromMessage for Payload {
        type Rejection = Infallible;

        async fn from_message(
            ctx: &mut MessageContext<'_>,
            _spec: &'static ParamSpec,
        ) -> Result<Self, Self::Rejection> {
            Ok(Payload(ctx.payload().map_or(0, bytes::Bytes::len)))
        }
    }

    /// Not an address placeholder: the handler's name.
    pub(crate) struct Param(pub(crate) &'static str);

    impl FromMessage for Param {
        type Rejection = Infallible;

        async fn from_message(
            ctx: &mut MessageContext<'_>,
            _spec: &'static ParamSpec,
        ) -> Result<Self, Self::Rejection> {
            Ok(Param(ctx.handler_name()))
        }
    }
}

/// Two look-alike `Payload`s and a `Param` with no placeholder: all fine, none is asyncfast's.
#[channel("audit")]
async fn on_audit(
    correlation_id: lookalike::Header,
    first: lookalike::Payload,
    second: lookalike::Payload,
    region: lookalike::Param,
) -> Result<(), String> {
    let summary = format!("{}|{}|{}|{}", correlation_id.0, first.0, second.0, region.0);
    match summary.as_str() {
        "audit|3|3|on_audit" => Ok(()),
        other => Err(format!("unexpected {other}")),
    }
}

async fn client() -> TestClient {
    TestClient::new(
        AsyncFast::empty()
            .channel(handler!(renamed::on_order))
            .channel(handler!(on_audit)),
    )
    .await
}

#[tokio::test]
async fn renamed_header_reads_the_kebab_case_name() {
    let client = client().await;
    client
        .publish("orders.eu")
        .header("correlation-id", "c-1")
        .header("retry-count", "2")
        .header("Idempotency-Key", "k-1")
        .json(&serde_json::json!({"id": 1}))
        .await
        .assert_acked();
    // Not the parameter's name as written.
    let outcome = client
        .publish("orders.eu")
        .header("correlation_id", "c-1")
        .header("retry-count", "2")
        .json(&serde_json::json!({"id": 1}))
        .await;
    assert_eq!(outcome.assert_nacked(), "missing header `correlation-id`");
}

#[test]
fn renamed_and_qualified_extractors_get_the_same_specs() {
    let renamed = handler!(renamed::on_order).meta().param_specs();
    let prelude = handler!(prelude_names::on_order).meta().param_specs();
    let summary = |specs: &[asyncfast::extract::ParamSpec]| {
        specs
            .iter()
            .map(|spec| (spec.name(), spec.header(), spec.placeholder_index()))
            .collect::<Vec<_>>()
    };
    assert_eq!(summary(renamed), summary(prelude));
    assert_eq!(renamed[0].header(), "correlation-id");
    assert_eq!(renamed[1].placeholder_index(), Some(0));
    assert_eq!(renamed[2].header(), "retry-count");
    assert_eq!(renamed[3].header(), "Idempotency-Key");
}

#[test]
fn renamed_extractors_document_the_same_operation() {
    let renamed = AsyncFast::empty()
        .channel(handler!(renamed::on_order))
        .asyncapi();
    let prelude = AsyncFast::empty()
        .channel(handler!(prelude_names::on_order))
        .asyncapi();
    assert_eq!(renamed, prelude);
    let headers = &renamed["components"]["schemas"]["OnOrderMessageHeaders"]["properties"];
    assert!(headers.get("correlation-id").is_some(), "{renamed:#}");
    assert!(headers.get("retry-count").is_some(), "{renamed:#}");
    assert!(headers.get("Idempotency-Key").is_some(), "{renamed:#}");
    assert!(
        renamed["channels"]["OnOrder"]["parameters"]
            .get("region")
            .is_some(),
        "{renamed:#}"
    );
}

#[tokio::test]
async fn lookalike_types_are_not_extractors_of_asyncfast() {
    client()
        .await
        .publish("audit")
        .payload("abc")
        .await
        .assert_acked();
}

#[test]
fn lookalike_types_are_not_documented_as_headers_payloads_or_parameters() {
    let document = AsyncFast::empty().channel(handler!(on_audit)).asyncapi();
    let text = document.to_string();
    for word in ["correlation", "headers", "payload", "parameters", "region"] {
        assert!(!text.contains(word), "`{word}` in {document:#}");
    }
}
