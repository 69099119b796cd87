//! [`Sqs`]: the SQS client with its endpoint for messages, queue URLs resolved once and cached,
//! and the mapping of the SDK's errors onto [`Error`].

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use aws_sdk_sqs::Client;
use aws_sdk_sqs::error::{DisplayErrorContext, SdkError};
use aws_sdk_sqs::types::QueueAttributeName;

use crate::config::{is_fifo_name, is_url};
use crate::{Error, ErrorKind, SqsConfig};

/// How to start an SQS for tests on this machine, for the message of an unreachable error.
const START_HINT: &str = "scripts/brokers-up starts moto on http://127.0.0.1:4566";

/// The client, where it points, and the queue URLs resolved so far.
pub(crate) struct Sqs {
    pub(crate) client: Client,
    /// The endpoint, for messages.
    pub(crate) endpoint: String,
    urls: Mutex<HashMap<String, Arc<str>>>,
}

impl Sqs {
    /// The program's client, or one from the standard AWS chain (environment, profile, SSO,
    /// instance role) with the configured endpoint and region. Credentials are never logged.
    pub(crate) async fn connect(config: &SqsConfig) -> Self {
        let endpoint = config.describe_endpoint();
        let client = if let Some(client) = &config.client {
            client.clone()
        } else {
            let timeouts = aws_config::timeout::TimeoutConfig::builder()
                .connect_timeout(config.connect_timeout)
                .build();
            let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest())
                .timeout_config(timeouts);
            if let Some(region) = &config.region {
                loader = loader.region(aws_config::Region::new(region.clone()));
            }
            if let Some(url) = &config.endpoint_url {
                loader = loader.endpoint_url(url);
            }
            Client::new(&loader.load().await)
        };
        Self {
            client,
            endpoint,
            urls: Mutex::new(HashMap::new()),
        }
    }

    /// The URL of `queue` (a name, or a URL returned as it is), resolved once with
    /// `GetQueueUrl`.
    pub(crate) async fn queue_url(&self, queue: &str) -> Result<Arc<str>, Error> {
        if is_url(queue) {
            return Ok(Arc::from(queue));
        }
        if let Some(url) = self
            .urls
            .lock()
            .ok()
            .and_then(|urls| urls.get(queue).cloned())
        {
            return Ok(url);
        }
        let answer = self.client.get_queue_url().queue_name(queue).send().await;
        let url: Arc<str> = match answer {
            Ok(output) => Arc::from(output.queue_url().unwrap_or_default()),
            Err(error)
                if error
                    .as_service_error()
                    .is_some_and(aws_sdk_sqs::operation::get_queue_url::GetQueueUrlError::is_queue_does_not_exist) =>
            {
                return Err(Error::new(
                    ErrorKind::QueueNotFound,
                    format!(
                        "queue `{queue}` does not exist at {}: create it, or map the address to \
                         an existing queue (ADDRESS=QUEUE)",
                        self.endpoint
                    ),
                    DisplayErrorContext(error).to_string(),
                ));
            }
            Err(error) => return Err(self.error(&format!("GetQueueUrl of `{queue}`"), &error)),
        };
        if let Ok(mut urls) = self.urls.lock() {
            urls.insert(queue.to_owned(), Arc::clone(&url));
        }
        Ok(url)
    }

    /// Every attribute of the queue at `url`.
    pub(crate) async fn attributes(
        &self,
        url: &str,
    ) -> Result<HashMap<QueueAttributeName, String>, Error> {
        let output = self
            .client
            .get_queue_attributes()
            .queue_url(url)
            .attribute_names(QueueAttributeName::All)
            .send()
            .await
            .map_err(|error| self.error(&format!("GetQueueAttributes of {url}"), &error))?;
        Ok(output.attributes().cloned().unwrap_or_default())
    }

    /// The URL of the queue `name`, created (FIFO when its name ends in `.fifo`) when missing.
    pub(crate) async fn ensure_queue(&self, name: &str) -> Result<Arc<str>, Error> {
        match self.queue_url(name).await {
            Err(error) if error.kind() == ErrorKind::QueueNotFound => {}
            other => return other,
        }
        let mut create = self.client.create_queue().queue_name(name);
        if is_fifo_name(name) {
            create = create.attributes(QueueAttributeName::FifoQueue, "true");
        }
        let output = create
            .send()
            .await
            .map_err(|error| self.error(&format!("CreateQueue `{name}`"), &error))?;
        let url: Arc<str> = Arc::from(output.queue_url().unwrap_or_default());
        if let Ok(mut urls) = self.urls.lock() {
            urls.insert(name.to_owned(), Arc::clone(&url));
        }
        tracing::info!(queue = name, "dead-letter queue created");
        Ok(url)
    }

    /// An SDK error as [`ErrorKind::Unreachable`] (no answer) or [`ErrorKind::Api`] (an
    /// answer that is an error), naming the call and the endpoint.
    pub(crate) fn error<E, R>(&self, call: &str, error: &SdkError<E, R>) -> Error
    where
        E: std::error::Error + Send + Sync + 'static,
        R: std::fmt::Debug + Send + Sync + 'static,
    {
        let detail = DisplayErrorContext(error).to_string();
        match error {
            SdkError::DispatchFailure(_) | SdkError::TimeoutError(_) => Error::new(
                ErrorKind::Unreachable,
                format!(
                    "SQS unreachable at {} ({call} got no answer; set --endpoint-url and \
                     --region, or for tests: {START_HINT})",
                    self.endpoint
                ),
                detail,
            ),
            SdkError::ConstructionFailure(_) => Error::new(
                ErrorKind::Unreachable,
                format!(
                    "could not make the SQS request {call} to {}: no credentials or no region \
                     in the standard AWS chain? (set AWS_REGION / --region and credentials)",
                    self.endpoint
                ),
                detail,
            ),
            _ => Error::new(
                ErrorKind::Api,
                format!("SQS refused {call} at {}", self.endpoint),
                detail,
            ),
        }
    }
}
