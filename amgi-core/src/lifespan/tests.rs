use std::sync::Mutex;

use super::*;
use crate::{MessageId, SharedSender};

#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Complete,
    StartupFails,
    ShutdownFails,
    Unsupported,
    ReturnsSilently,
    Errors,
    Panics,
    Hangs,
    WrongReply,
}

struct App {
    mode: Mode,
    log: Mutex<Vec<String>>,
}

impl App {
    fn new(mode: Mode) -> Arc<Self> {
        Arc::new(Self {
            mode,
            log: Mutex::new(Vec::new()),
        })
    }

    fn log(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }
}

impl Application for App {
    async fn call(
        &self,
        scope: Scope,
        receive: &mut dyn Receiver,
        send: SharedSender,
    ) -> Result<(), ApplicationError> {
        let Scope::Lifespan(scope) = scope else {
            unreachable!()
        };
        match self.mode {
            Mode::Unsupported => return Err(ApplicationError::unsupported_scope("lifespan")),
            Mode::ReturnsSilently => return Ok(()),
            Mode::Errors => return Err(ApplicationError::msg("config missing")),
            Mode::Panics => panic!("boom"),
            Mode::Hangs => std::future::pending::<()>().await,
            _ => {}
        }
        loop {
            let event = receive.receive().await?;
            self.log.lock().unwrap().push(event.kind().to_owned());
            match event {
                ReceiveEvent::LifespanStartup => {
                    // An ack has no meaning here: the server must refuse it.
                    let refused = send.send(SendEvent::ack(MessageId::new(1))).await;
                    assert_eq!(refused.unwrap_err().kind(), SendErrorKind::UnexpectedEvent);
                    let reply = match self.mode {
                        Mode::StartupFails => SendEvent::LifespanStartupFailed {
                            message: "no database".into(),
                        },
                        Mode::WrongReply => SendEvent::LifespanShutdownComplete,
                        _ => {
                            scope.state.insert(String::from("pool"));
                            SendEvent::LifespanStartupComplete
                        }
                    };
                    send.send(reply).await?;
                }
                ReceiveEvent::LifespanShutdown => {
                    let reply = if self.mode == Mode::ShutdownFails {
                        SendEvent::LifespanShutdownFailed {
                            message: "flush failed".into(),
                        }
                    } else {
                        SendEvent::LifespanShutdownComplete
                    };
                    send.send(reply).await?;
                    return Ok(());
                }
                ReceiveEvent::Message(_) => unreachable!(),
            }
        }
    }
}

fn options() -> LifespanOptions {
    LifespanOptions::default()
        .startup_timeout(Duration::from_secs(5))
        .shutdown_timeout(Duration::from_secs(5))
}

#[tokio::test]
async fn startup_then_shutdown_in_order_and_state_is_shared() {
    let app = App::new(Mode::Complete);
    let state = StateMap::new();
    let lifespan = Lifespan::startup(Arc::clone(&app), state.clone(), options())
        .await
        .unwrap();
    assert!(lifespan.is_supported());
    assert_eq!(state.get::<String>().unwrap().as_str(), "pool");
    assert_eq!(app.log(), ["lifespan.startup"]);
    lifespan.shutdown().await.unwrap();
    assert_eq!(app.log(), ["lifespan.startup", "lifespan.shutdown"]);
}

#[tokio::test]
async fn startup_failed_carries_the_message() {
    let error = Lifespan::startup(App::new(Mode::StartupFails), StateMap::new(), options())
        .await
        .unwrap_err();
    assert!(
        matches!(&error, LifespanError::StartupFailed { message } if message == "no database"),
        "{error}"
    );
}

#[tokio::test]
async fn application_error_and_panic_fail_startup() {
    let error = Lifespan::startup(App::new(Mode::Errors), StateMap::new(), options())
        .await
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "application startup failed: config missing"
    );
    let error = Lifespan::startup(App::new(Mode::Panics), StateMap::new(), options())
        .await
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "application startup failed: application panicked: boom"
    );
}

#[tokio::test]
async fn unsupported_lifespan_is_not_an_error() {
    for mode in [Mode::Unsupported, Mode::ReturnsSilently] {
        let lifespan = Lifespan::startup(App::new(mode), StateMap::new(), options())
            .await
            .unwrap();
        assert!(!lifespan.is_supported());
        lifespan.shutdown().await.unwrap();
    }
}

#[tokio::test]
async fn shutdown_failed_carries_the_message() {
    let lifespan = Lifespan::startup(App::new(Mode::ShutdownFails), StateMap::new(), options())
        .await
        .unwrap();
    let error = lifespan.shutdown().await.unwrap_err();
    assert!(
        matches!(error, LifespanError::ShutdownFailed { message } if message == "flush failed")
    );
}

#[tokio::test]
async fn wrong_reply_is_a_protocol_error() {
    let error = Lifespan::startup(App::new(Mode::WrongReply), StateMap::new(), options())
        .await
        .unwrap_err();
    assert!(matches!(error, LifespanError::Protocol(_)), "{error}");
}

#[tokio::test(start_paused = true)]
async fn silent_application_times_out() {
    let options = options().startup_timeout(Duration::from_millis(200));
    let error = Lifespan::startup(App::new(Mode::Hangs), StateMap::new(), options)
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            LifespanError::Timeout {
                event: "lifespan.startup",
                ..
            }
        ),
        "{error}"
    );
}
