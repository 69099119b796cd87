use asyncfast::amgi::Binding;
use asyncfast::extract::{Dep, KafkaKey, MqttQos, SqsMessageGroupId};
use asyncfast::prelude::*;

struct Db;

/// Uses every kind of parameter.
#[channel("orders.{region}.{id}", name = "orders", description = "Overrides the doc comment.")]
async fn everything(
    region: Param<String>,
    id: Param<u64>,
    body: Payload<Option<serde_json::Value>>,
    correlation_id: Header<String>,
    #[header(alias = "Idempotency-Key")] key: Header<Option<String>>,
    #[header(default = 3)] retries: Header<u8>,
    db: State<Db>,
    sender: MessageSender,
    kafka: Option<KafkaKey>,
    qos: Option<MqttQos>,
    group: Option<SqsMessageGroupId>,
    binding: Option<Binding>,
    again: Dep<Payload<Option<serde_json::Value>>>,
) -> Result<(), std::io::Error> {
    let _ = (region, id, body, correlation_id, key, retries, db, sender, kafka, qos, group, binding, again);
    Ok(())
}

/// Plain functions run on the blocking pool.
#[channel("reports")]
fn blocking(_report: Payload<String>) {}

#[channel(r"raw.{id}")]
async fn r#type(r#id: Param<u32>) {
    let _ = r#id;
}

mod nested {
    use asyncfast::prelude::*;

    #[channel("nested")]
    pub async fn handler_in_module() {}
}

fn main() {
    let app = AsyncFast::empty()
        .state(Db)
        .channel(handler!(everything))
        .channel(handler!(blocking))
        .channel(handler!(r#type))
        .channel(handler!(nested::handler_in_module));
    app.validate().unwrap();
    let meta = app.channels().next().unwrap();
    assert_eq!(meta.name(), "orders");
    assert_eq!(meta.description_text(), Some("Overrides the doc comment."));
    assert_eq!(meta.param_specs()[4].header(), "Idempotency-Key");
    assert_eq!(meta.param_specs()[3].header(), "correlation-id");
}
