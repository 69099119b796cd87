//! The AsyncAPI document, as snapshots (`insta`): headers, payloads, channel parameters, send
//! operations, bindings, shared and nested schemas, doc comments, servers and `info`.
//!
//! Review a changed snapshot with `INSTA_UPDATE=always cargo test -p asyncfast --test
//! asyncapi_document` and `git diff asyncfast/tests/snapshots/`.
//!
//! The last test validates a document holding all of the above with the official JavaScript
//! parser (`scripts/validate-asyncapi`, which needs `node` and `npm`).
#![allow(dead_code)] // payload types exist for their schemas; handlers do not read every field

use std::path::PathBuf;
use std::process::Command;

use asyncfast::asyncapi::{Server, SpecVersion};
use asyncfast::extract::{
    Dep, KafkaKey, KafkaPartition, MqttCorrelationData, MqttQos, MqttResponseTopic, MqttTopic,
};
use asyncfast::prelude::*;
use bytes::Bytes;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// An application with a fixed `info`, so that snapshots do not depend on the package.
fn app() -> AsyncFast {
    AsyncFast::empty()
        .title("Snapshots")
        .version("1.0.0")
        .description("Snapshot tests.")
}

mod headers {
    use super::*;

    #[channel("hello")]
    pub(crate) async fn on_hello(
        /// Id to correlate the request.
        request_id: Header<u64>,
        #[header(alias = "Idempotency-Key")] key: Header<String>,
        trace_parent: Header<Option<String>>,
        #[header(default = 3, description = "How many times delivery is tried.")] attempts: Header<
            u8,
        >,
        #[header(default = String::from("eu"))] region: Header<String>,
        raw: Header<Bytes>,
    ) {
        let _ = (request_id, key, trace_parent, attempts, region, raw);
    }
}

#[test]
fn headers_plain_alias_optional_default_description() {
    insta::assert_json_snapshot!(app().channel(handler!(headers::on_hello)).asyncapi());
}

mod payloads {
    use super::*;

    /// A postal address.
    #[derive(Deserialize, Serialize, JsonSchema)]
    pub(crate) struct Address {
        pub(crate) number: u32,
        pub(crate) street: String,
        /// The town, as written on letters.
        pub(crate) town: String,
    }

    /// Someone who registered.
    #[derive(Deserialize, JsonSchema)]
    pub(crate) struct Person {
        pub(crate) name: String,
        pub(crate) address: Address,
        pub(crate) previous: Vec<Address>,
        pub(crate) nickname: Option<String>,
    }

    /// How an order stands.
    #[derive(Deserialize, Serialize, JsonSchema)]
    #[serde(rename_all = "snake_case")]
    pub(crate) enum Status {
        Placed,
        Paid,
        Shipped,
    }

    /// What can happen to an account.
    #[derive(Deserialize, JsonSchema)]
    #[serde(tag = "type", rename_all = "snake_case")]
    pub(crate) enum AccountEvent {
        /// The account was opened.
        Opened { owner: String },
        /// The account was closed.
        Closed { reason: Option<String> },
    }

    #[derive(Deserialize, JsonSchema)]
    pub(crate) struct Line {
        pub(crate) sku: String,
        pub(crate) quantity: u32,
    }

    #[channel("register")]
    pub(crate) async fn on_register(person: Payload<Person>) {
        let _ = person;
    }

    #[channel("status")]
    pub(crate) async fn on_status(status: Payload<Status>) {
        let _ = status;
    }

    #[channel("accounts")]
    pub(crate) async fn on_account(event: Payload<AccountEvent>) {
        let _ = event;
    }

    #[channel("lines")]
    pub(crate) async fn on_lines(lines: Payload<Vec<Line>>) {
        let _ = lines;
    }

    #[channel("counter")]
    pub(crate) async fn on_counter(count: Payload<u64>) {
        let _ = count;
    }

    #[channel("text")]
    pub(crate) async fn on_text(text: Payload<String>) {
        let _ = text;
    }

    #[channel("blob")]
    pub(crate) async fn on_blob(blob: Payload<Bytes>) {
        let _ = blob;
    }

    #[channel("maybe")]
    pub(crate) async fn on_maybe(maybe: Payload<Option<Address>>) {
        let _ = maybe;
    }

    /// A dependency that reads the payload documents it too.
    #[channel("depends")]
    pub(crate) async fn on_depends(address: Dep<Payload<Address>>) {
        let _ = address;
    }
}

#[test]
fn payload_struct_nested_and_shared() {
    insta::assert_json_snapshot!(
        app()
            .channel(handler!(payloads::on_register))
            .channel(handler!(payloads::on_maybe))
            .channel(handler!(payloads::on_depends))
            .asyncapi()
    );
}

#[test]
fn payload_enums() {
    insta::assert_json_snapshot!(
        app()
            .channel(handler!(payloads::on_status))
            .channel(handler!(payloads::on_account))
            .asyncapi()
    );
}

#[test]
fn payload_list_scalar_text_and_raw_bytes() {
    insta::assert_json_snapshot!(
        app()
            .channel(handler!(payloads::on_lines))
            .channel(handler!(payloads::on_counter))
            .channel(handler!(payloads::on_text))
            .channel(handler!(payloads::on_blob))
            .asyncapi()
    );
}

mod collisions {
    use super::*;

    pub(crate) mod billing {
        use super::*;

        /// Where invoices go.
        #[derive(Deserialize, JsonSchema)]
        pub(crate) struct Address {
            pub(crate) email: String,
        }
    }

    /// The same type name in two modules: both are kept, the second as `Address2`.
    #[channel("invoices")]
    pub(crate) async fn on_invoice(address: Payload<billing::Address>) {
        let _ = address;
    }

    /// The headers schema of this channel is `OnRegisterMessageHeaders`, like a type name.
    #[channel("register.v2")]
    pub(crate) async fn on_register(person: Payload<OnRegisterMessageHeaders>, id: Header<String>) {
        let _ = (person, id);
    }

    #[derive(Deserialize, JsonSchema)]
    pub(crate) struct OnRegisterMessageHeaders {
        pub(crate) address: payloads::Address,
    }
}

#[test]
fn names_collide_deterministically() {
    insta::assert_json_snapshot!(
        app()
            .channel(handler!(collisions::on_invoice))
            .channel(handler!(collisions::on_register))
            .asyncapi()
    );
}

mod params {
    use super::*;

    /// Where orders come from.
    #[derive(Deserialize, JsonSchema)]
    #[serde(rename_all = "lowercase")]
    pub(crate) enum Region {
        Eu,
        Us,
    }

    impl std::str::FromStr for Region {
        type Err = String;
        fn from_str(s: &str) -> Result<Self, Self::Err> {
            match s {
                "eu" => Ok(Self::Eu),
                "us" => Ok(Self::Us),
                other => Err(format!("unknown region {other}")),
            }
        }
    }

    /// A type without a schema: documented as a string.
    pub(crate) struct Opaque(pub(crate) String);

    impl std::str::FromStr for Opaque {
        type Err = std::convert::Infallible;
        fn from_str(s: &str) -> Result<Self, Self::Err> {
            Ok(Self(s.to_owned()))
        }
    }

    #[channel("tenants/{tenant}/orders.{region}/{id}")]
    pub(crate) async fn on_order(
        /// The tenant's slug.
        tenant: Param<Opaque>,
        /// The region of the order.
        region: Param<Region>,
        /// The order number.
        id: Param<u64>,
    ) {
        let _ = (tenant, region, id);
    }
}

#[test]
fn channel_parameters() {
    insta::assert_json_snapshot!(app().channel(handler!(params::on_order)).asyncapi());
}

mod sends {
    use super::*;

    #[derive(Serialize, JsonSchema)]
    pub(crate) struct Receipt {
        pub(crate) total: u64,
        pub(crate) status: payloads::Status,
    }

    /// An order was processed.
    ///
    /// Sent once per order, after payment.
    #[derive(Message)]
    #[message(address = "order.{id}.processed")]
    pub(crate) struct OrderProcessed {
        /// The order number.
        pub(crate) id: u64,
        #[payload]
        pub(crate) receipt: Receipt,
        /// Correlates with the request.
        #[header(alias = "correlation-id")]
        pub(crate) correlation: String,
        #[header]
        pub(crate) retry_count: Option<u32>,
        /// Partitions by customer.
        #[binding(kafka_key)]
        pub(crate) key: String,
        #[binding(kafka_partition)]
        pub(crate) partition: i32,
    }

    /// Something worth auditing.
    #[derive(Message)]
    #[message(address = "audit", name = "AuditEntry")]
    pub(crate) struct Audited {
        #[payload]
        pub(crate) line: String,
    }

    #[derive(Message)]
    #[message(address = "blobs")]
    pub(crate) struct Blob {
        #[payload]
        pub(crate) bytes: Vec<u8>,
    }

    /// Processes orders.
    ///
    /// Replies with `OrderProcessed`, and audits through the sender.
    #[channel("orders", sends = [Audited, Blob])]
    pub(crate) async fn on_order(
        sender: MessageSender,
    ) -> Result<Option<OrderProcessed>, std::io::Error> {
        let _ = sender;
        Ok(None)
    }

    /// Consumes what `on_order` sends: two channels share the address.
    #[channel("order.{id}.processed")]
    pub(crate) async fn on_processed(id: Param<u64>, receipt: Payload<serde_json::Value>) {
        let _ = (id, receipt);
    }

    /// Also returns `OrderProcessed`: documented once.
    #[channel("orders.retry")]
    pub(crate) async fn on_retry() -> Vec<OrderProcessed> {
        Vec::new()
    }
}

#[test]
fn send_operations_from_return_types_and_sends() {
    insta::assert_json_snapshot!(
        app()
            .channel(handler!(sends::on_order))
            .channel(handler!(sends::on_retry))
            .asyncapi()
    );
}

mod bindings {
    use super::*;

    #[channel("events")]
    pub(crate) async fn on_event(
        key: KafkaKey,
        partition: Option<KafkaPartition>,
        qos: Option<MqttQos>,
        body: Payload<String>,
    ) {
        let _ = (key, partition, qos, body);
    }
}

#[test]
fn kafka_key_bindings() {
    insta::assert_json_snapshot!(app().channel(handler!(bindings::on_event)).asyncapi());
}

mod mqtt_bindings {
    use super::*;

    /// A question for the pricing service, answered on the response topic.
    #[derive(Message)]
    #[message(address = "prices.request")]
    pub(crate) struct PriceRequest {
        #[payload]
        pub(crate) sku: String,
        /// Where the pricing service publishes its answer.
        #[binding(mqtt_response_topic)]
        pub(crate) reply_to: String,
        /// Pairs the answer with this question.
        #[binding(mqtt_correlation_data)]
        pub(crate) correlation: Vec<u8>,
        #[binding(mqtt_qos)]
        pub(crate) qos: u8,
    }

    #[channel("prices.asked", sends = [PriceRequest])]
    pub(crate) async fn on_asked(
        response_topic: MqttResponseTopic,
        correlation: Option<MqttCorrelationData>,
        topic: MqttTopic,
        body: Payload<String>,
    ) {
        let _ = (response_topic, correlation, topic, body);
    }
}

mod replies {
    use super::*;

    #[derive(Deserialize, JsonSchema)]
    pub(crate) struct Multiply {
        pub(crate) x: i64,
        pub(crate) y: i64,
    }

    /// Multiplies two numbers for whoever asks.
    #[channel("multiply")]
    pub(crate) async fn on_multiply(
        args: Payload<Multiply>,
    ) -> Result<asyncfast::Reply<i64>, String> {
        Ok(asyncfast::Reply(args.x * args.y))
    }
}

#[test]
fn reply_objects() {
    insta::assert_json_snapshot!(
        app()
            .channel(handler!(replies::on_multiply))
            .replies()
            .asyncapi()
    );
}

#[test]
fn mqtt_bindings() {
    insta::assert_json_snapshot!(app().channel(handler!(mqtt_bindings::on_asked)).asyncapi());
}

mod info {
    use super::*;

    /// Greets every new user.
    ///
    /// Sends nothing back.
    #[channel("user.created", name = "greet")]
    pub(crate) async fn on_user_created(email: Payload<String>) {
        let _ = email;
    }
}

#[test]
fn info_servers_doc_comments_and_version() {
    let app = AsyncFast::empty()
        .title("Users")
        .version("2.1.0")
        .description("Everything about users.")
        .server(
            "production",
            Server::new("kafka.example.com:9092", "kafka")
                .protocol_version("3.7.0")
                .description("The production cluster."),
        )
        .server("local", Server::new("localhost:9092", "kafka"))
        .channel(handler!(info::on_user_created));
    insta::assert_json_snapshot!(app.asyncapi_for(SpecVersion::V3_1_0));
}

#[test]
fn info_defaults_to_the_package_of_the_channels() {
    let doc = AsyncFast::empty()
        .channel(handler!(info::on_user_created))
        .asyncapi();
    assert_eq!(doc["info"]["title"], env!("CARGO_PKG_NAME"));
    assert_eq!(doc["info"]["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(doc["info"]["description"], env!("CARGO_PKG_DESCRIPTION"));
    let doc = AsyncFast::empty().asyncapi();
    assert_eq!(doc["info"]["title"], "AsyncFast application");
}

#[test]
fn documents_are_deterministic() {
    let build = || {
        app()
            .channel(handler!(sends::on_order))
            .channel(handler!(payloads::on_register))
            .channel(handler!(collisions::on_invoice))
            .asyncapi()
    };
    assert_eq!(
        serde_json::to_string_pretty(&build()).unwrap(),
        serde_json::to_string_pretty(&build()).unwrap()
    );
}

/// Every handler above in one application.
fn rich() -> AsyncFast {
    app()
        .server("production", Server::new("kafka.example.com:9092", "kafka"))
        .server(
            "sensors",
            Server::new("mqtt.example.com:8883", "mqtt")
                .protocol_version("5")
                .binding("clientId", "billing-1")
                .binding("cleanSession", false)
                .binding("sessionExpiryInterval", 3600)
                .binding("keepAlive", 30),
        )
        .channel(handler!(headers::on_hello))
        .channel(handler!(payloads::on_register))
        .channel(handler!(payloads::on_status))
        .channel(handler!(payloads::on_account))
        .channel(handler!(payloads::on_lines))
        .channel(handler!(payloads::on_counter))
        .channel(handler!(payloads::on_text))
        .channel(handler!(payloads::on_blob))
        .channel(handler!(payloads::on_maybe))
        .channel(handler!(payloads::on_depends))
        .channel(handler!(collisions::on_invoice))
        .channel(handler!(collisions::on_register))
        .channel(handler!(params::on_order))
        .channel(handler!(sends::on_order))
        .channel(handler!(sends::on_retry))
        .channel(handler!(sends::on_processed))
        .channel(handler!(bindings::on_event))
        .channel(handler!(mqtt_bindings::on_asked))
        .channel(handler!(replies::on_multiply))
        .channel(handler!(info::on_user_created))
}

#[test]
fn the_official_parser_accepts_the_documents() {
    let app = rich();
    app.validate().unwrap();
    let dir = std::env::temp_dir().join(format!("asyncfast-validate-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut files = Vec::new();
    for version in [SpecVersion::V3_0_0, SpecVersion::V3_1_0] {
        let path = dir.join(format!("rich-{version}.json"));
        let text = serde_json::to_string_pretty(&app.asyncapi_for(version)).unwrap();
        std::fs::write(&path, text).unwrap();
        files.push(path);
    }
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../scripts/validate-asyncapi");
    let output = Command::new(&script)
        .args(&files)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", script.display()));
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    std::fs::remove_dir_all(&dir).unwrap();
    println!("{report}");
    assert!(
        output.status.success(),
        "the official AsyncAPI parser rejected the document (node and npm are needed: \
         `apt-get install nodejs npm`):\n{report}"
    );
    assert!(report.contains("valid AsyncAPI 3.0.0"), "{report}");
    assert!(report.contains("valid AsyncAPI 3.1.0"), "{report}");
}
