//! [`MqttBinding`] ↔ an MQTT 5 `PUBLISH`: QoS, retain, topic and the publish properties.

use amgi_core::{Binding, Bindings, MqttBinding};
use rumqttc::v5::mqttbytes::QoS;
use rumqttc::v5::mqttbytes::v5::PublishProperties;

/// A QoS level as a number, 0 to 2.
pub(crate) fn qos_number(qos: QoS) -> u8 {
    match qos {
        QoS::AtMostOnce => 0,
        QoS::AtLeastOnce => 1,
        QoS::ExactlyOnce => 2,
    }
}

/// A QoS number as a level (anything above 2 is 2).
pub(crate) fn qos_level(qos: u8) -> QoS {
    match qos {
        0 => QoS::AtMostOnce,
        1 => QoS::AtLeastOnce,
        _ => QoS::ExactlyOnce,
    }
}

/// The binding of a received `PUBLISH`: its QoS, retain flag, topic and MQTT 5 properties
/// (taken out of `properties`, not copied).
pub(crate) fn inbound(
    qos: QoS,
    retain: bool,
    topic: &str,
    properties: Option<&mut PublishProperties>,
) -> MqttBinding {
    let mut binding = MqttBinding::new(qos_number(qos), retain).topic(topic);
    if let Some(properties) = properties {
        binding.content_type = properties.content_type.take();
        binding.response_topic = properties.response_topic.take();
        binding.correlation_data = properties.correlation_data.take();
        binding.message_expiry_interval = properties.message_expiry_interval;
    }
    binding
}

/// How to publish a `message.send`: its MQTT binding's QoS, retain flag and properties, or
/// `default_qos`, not retained and no properties when it has none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Outbound {
    pub(crate) qos: crate::Qos,
    pub(crate) retain: bool,
    pub(crate) properties: PublishProperties,
}

impl Outbound {
    /// The publish settings of a message with `bindings`.
    pub(crate) fn of(bindings: &Bindings, default_qos: crate::Qos) -> Self {
        let mqtt = bindings.iter().find_map(|binding| match binding {
            Binding::Mqtt(mqtt) => Some(mqtt),
            _ => None,
        });
        let Some(mqtt) = mqtt else {
            return Self {
                qos: default_qos,
                retain: false,
                properties: PublishProperties::default(),
            };
        };
        Self {
            qos: match mqtt.qos {
                0 => crate::Qos::AtMostOnce,
                1 => crate::Qos::AtLeastOnce,
                _ => crate::Qos::ExactlyOnce,
            },
            retain: mqtt.retain,
            properties: PublishProperties {
                content_type: mqtt.content_type.clone(),
                response_topic: mqtt.response_topic.clone(),
                correlation_data: mqtt.correlation_data.clone(),
                message_expiry_interval: mqtt.message_expiry_interval,
                ..PublishProperties::default()
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;

    #[test]
    fn a_send_without_an_mqtt_binding_uses_the_default_qos() {
        let outbound = Outbound::of(&Bindings::default(), crate::Qos::ExactlyOnce);
        assert_eq!(outbound.qos, crate::Qos::ExactlyOnce);
        assert!(!outbound.retain);
        assert_eq!(outbound.properties, PublishProperties::default());
    }

    #[test]
    fn the_binding_sets_qos_retain_and_the_properties_that_are_some() {
        let binding = MqttBinding::new(0, true)
            .content_type("application/json")
            .response_topic("replies/1")
            .correlation_data(Bytes::from_static(b"\x00id"))
            .message_expiry_interval(60);
        let bindings: Bindings = std::iter::once(Binding::Mqtt(binding)).collect();
        let outbound = Outbound::of(&bindings, crate::Qos::AtLeastOnce);
        assert_eq!(outbound.qos, crate::Qos::AtMostOnce);
        assert!(outbound.retain);
        assert_eq!(
            outbound.properties.content_type.as_deref(),
            Some("application/json")
        );
        assert_eq!(
            outbound.properties.response_topic.as_deref(),
            Some("replies/1")
        );
        assert_eq!(
            outbound.properties.correlation_data.as_deref(),
            Some(&b"\x00id"[..])
        );
        assert_eq!(outbound.properties.message_expiry_interval, Some(60));
    }

    #[test]
    fn a_received_publish_carries_its_properties_in_the_binding() {
        let mut properties = PublishProperties {
            content_type: Some("text/plain".into()),
            message_expiry_interval: Some(5),
            ..PublishProperties::default()
        };
        let binding = inbound(QoS::ExactlyOnce, true, "a/b", Some(&mut properties));
        assert_eq!(binding.qos, 2);
        assert!(binding.retain);
        assert_eq!(binding.topic.as_deref(), Some("a/b"));
        assert_eq!(binding.content_type.as_deref(), Some("text/plain"));
        assert_eq!(binding.message_expiry_interval, Some(5));
        assert_eq!(binding.response_topic, None);
    }
}
