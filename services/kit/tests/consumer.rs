//! kit's consumer runner against the real NATS JetStream of the test stack
//! (`HELPDESK_TEST_NATS_URL`, exported by `deploy/stack.sh env`), each test under its own stream
//! prefix: what it acks, redelivers, quarantines and terminates, the order it keeps, and its stop.

use std::{
    collections::{HashMap, VecDeque},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use async_nats::jetstream::{Message, consumer::PullConsumer};
use helpdesk_kit::{
    CancellationToken,
    config::NatsConfig,
    consumer::{Backoff, Consumer, Durable, Failure, Handled, Handler},
    nats::{Nats, Subjects},
};

const DURABLE: &str = "kit-consumer-test";

/// A stream prefix of its own on the stack's NATS; `cleanup` removes its streams.
struct Bus {
    nats: Nats,
    subjects: Subjects,
}

impl Bus {
    async fn new() -> Self {
        let url = std::env::var("HELPDESK_TEST_NATS_URL")
            .expect("HELPDESK_TEST_NATS_URL is not set: run the tests with `eval \"$(deploy/stack.sh env)\"`");
        let prefix = format!("t{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
        let config = NatsConfig { url, prefix: prefix.clone(), ..NatsConfig::default() };
        let nats = Nats::connect(&config).await.expect("connect to NATS");
        Self { nats, subjects: Subjects::new(&prefix) }
    }

    fn durable(&self, max_deliver: Option<i64>, concurrency: usize) -> Durable {
        Durable {
            max_deliver,
            concurrency,
            backoff: Backoff { first: Duration::from_millis(200), max: Duration::from_secs(1) },
            ..Durable::new(self.subjects.events_stream(), DURABLE, self.subjects.event("test", ">"))
        }
    }

    /// Publishes a payload; returns its stream sequence.
    async fn publish(&self, payload: &[u8]) -> u64 {
        let ack = self.nats.jetstream.publish(self.subjects.event("test", "x"), payload.to_vec().into()).await.expect("publish");
        ack.await.expect("stream ack").sequence
    }

    /// Waits until everything up to `sequence` is acknowledged or terminated, nothing pending.
    async fn settled(&self, sequence: u64) {
        let stream = self.nats.jetstream.get_stream(self.subjects.events_stream()).await.expect("stream");
        let mut consumer: PullConsumer = stream.get_consumer(DURABLE).await.expect("durable consumer");
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let info = consumer.info().await.expect("consumer info");
            if info.ack_floor.stream_sequence >= sequence && info.num_ack_pending == 0 {
                return;
            }
            assert!(Instant::now() < deadline, "timed out waiting for the consumer to settle up to {sequence}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    async fn cleanup(self) {
        for stream in self.subjects.all_streams() {
            let _ = self.nats.jetstream.delete_stream(stream).await;
        }
    }
}

/// Polls `done` for up to 20 s; fails loudly naming `what`.
async fn until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// What the scripted handler answers for a payload, delivery after delivery (then `Done`).
#[derive(Clone, Copy)]
enum Answer {
    Retry,
    Poison,
}

#[derive(Default)]
struct Record {
    /// (payload, delivery count, started, finished)
    handled: Vec<(String, i64, Instant, Instant)>,
    /// (payload, delivery count, reason)
    quarantined: Vec<(String, i64, String)>,
    started: Vec<String>,
}

/// A handler that answers from a script, takes `work` per message, orders by the payload's part
/// before `:`, and records everything.
#[derive(Clone, Default)]
struct Scripted {
    script: Arc<Mutex<HashMap<String, VecDeque<Answer>>>>,
    work: Duration,
    record: Arc<Mutex<Record>>,
}

impl Scripted {
    fn answering(self, payload: &str, answers: &[Answer]) -> Self {
        self.script.lock().expect("lock").insert(payload.into(), answers.iter().copied().collect());
        self
    }

    fn working(mut self, work: Duration) -> Self {
        self.work = work;
        self
    }

    fn handled(&self, payload: &str) -> Vec<(i64, Instant, Instant)> {
        let record = self.record.lock().expect("lock");
        record.handled.iter().filter(|h| h.0 == payload).map(|h| (h.1, h.2, h.3)).collect()
    }

    fn quarantined(&self) -> Vec<(String, i64, String)> {
        self.record.lock().expect("lock").quarantined.clone()
    }
}

impl Handler for Scripted {
    type Message = (String, i64);

    fn decode(&self, message: &Message) -> Result<(String, i64), Failure> {
        let text = String::from_utf8(message.payload.to_vec()).map_err(|_| Failure::poison("not UTF-8"))?;
        Ok((text, message.info().map(|i| i.delivered).unwrap_or(1)))
    }

    fn order_keys(&self, (payload, _): &(String, i64)) -> Vec<String> {
        payload.split_once(':').map(|(key, _)| vec![key.to_string()]).unwrap_or_default()
    }

    async fn handle(&self, (payload, delivered): (String, i64)) -> Handled {
        let started = Instant::now();
        self.record.lock().expect("lock").started.push(payload.clone());
        tokio::time::sleep(self.work).await;
        let answer = self.script.lock().expect("lock").get_mut(&payload).and_then(VecDeque::pop_front);
        self.record.lock().expect("lock").handled.push((payload.clone(), delivered, started, Instant::now()));
        match answer {
            None => Ok(()),
            Some(Answer::Retry) => Err(Failure::retry(format!("{payload} is not ready"))),
            Some(Answer::Poison) => Err(Failure::poison(format!("{payload} is poison"))),
        }
    }

    async fn quarantine(&self, message: &Message, delivered: i64, reason: &anyhow::Error) -> anyhow::Result<()> {
        let payload = String::from_utf8_lossy(&message.payload).into_owned();
        self.record.lock().expect("lock").quarantined.push((payload, delivered, format!("{reason:#}")));
        Ok(())
    }
}

/// A handler running in the background on its own stream prefix.
struct Running {
    bus: Bus,
    handler: Scripted,
    shutdown: CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

impl Running {
    /// Binds a durable consumer (`max_deliver`, `concurrency`) on a new bus and runs `handler`.
    async fn start(max_deliver: i64, concurrency: usize, handler: Scripted) -> Self {
        let bus = Bus::new().await;
        let consumer = Consumer::bind(&bus.nats, bus.durable(Some(max_deliver), concurrency)).await.expect("bind the durable consumer");
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(consumer.run(handler.clone(), shutdown.clone()));
        Self { bus, handler, shutdown, task }
    }

    /// Publishes the payloads and waits until all are settled and a sentinel behind them too: any
    /// redelivery of theirs would have come before it, as the consumer takes messages in order.
    async fn deliver(&self, payloads: &[&[u8]]) {
        for payload in payloads {
            self.bus.publish(payload).await;
        }
        let sentinel = self.bus.publish(b"sentinel").await;
        self.bus.settled(sentinel).await;
    }

    /// Stops the runner (waiting for it) and removes the streams.
    async fn stop(self) -> Scripted {
        self.shutdown.cancel();
        self.task.await.expect("runner");
        self.bus.cleanup().await;
        self.handler
    }
}

#[tokio::test]
async fn a_done_message_is_acknowledged_once() {
    let running = Running::start(5, 1, Scripted::default()).await;
    running.deliver(&[b"a"]).await;
    let handler = running.stop().await;
    assert_eq!(handler.handled("a").iter().map(|h| h.0).collect::<Vec<_>>(), vec![1], "handled once, on its first delivery");
    assert!(handler.quarantined().is_empty());
}

#[tokio::test]
async fn a_retried_message_comes_back_after_a_growing_backoff_then_is_done() {
    let running = Running::start(5, 1, Scripted::default().answering("r", &[Answer::Retry, Answer::Retry])).await;
    running.deliver(&[b"r"]).await;
    let handler = running.stop().await;
    let handled = handler.handled("r");
    assert_eq!(handled.iter().map(|h| h.0).collect::<Vec<_>>(), vec![1, 2, 3], "redelivered twice, then done");
    let first_wait = handled[1].1 - handled[0].2;
    let second_wait = handled[2].1 - handled[1].2;
    assert!(first_wait >= Duration::from_millis(200), "the first back-off: {first_wait:?}");
    assert!(second_wait >= Duration::from_millis(400), "the second back-off doubles: {second_wait:?}");
    assert!(handler.quarantined().is_empty(), "a message that passed is not quarantined");
}

#[tokio::test]
async fn poison_is_quarantined_once_and_terminated_and_the_next_message_still_flows() {
    let running = Running::start(5, 1, Scripted::default().answering("p", &[Answer::Poison])).await;
    running.deliver(&[b"p", &[0xff, 0xfe], b"n"]).await;
    let handler = running.stop().await;
    assert_eq!(handler.handled("p").len(), 1, "poison is not redelivered");
    assert_eq!(handler.handled("n").len(), 1, "the next message is handled");
    let quarantined = handler.quarantined();
    assert_eq!(quarantined.len(), 2, "{quarantined:?}");
    assert_eq!(quarantined[0], ("p".to_string(), 1, "p is poison".to_string()));
    assert_eq!(quarantined[1].2, "not UTF-8", "what does not decode is poison too");
}

#[tokio::test]
async fn at_max_deliver_the_message_is_quarantined_and_terminated() {
    let running = Running::start(3, 1, Scripted::default().answering("f", &[Answer::Retry; 10])).await;
    running.deliver(&[b"f"]).await;
    let handler = running.stop().await;
    assert_eq!(handler.handled("f").iter().map(|h| h.0).collect::<Vec<_>>(), vec![1, 2, 3]);
    assert_eq!(handler.quarantined(), vec![("f".to_string(), 3, "f is not ready".to_string())]);
}

#[tokio::test]
async fn messages_sharing_a_key_run_in_order_while_other_keys_run_alongside() {
    let running = Running::start(5, 4, Scripted::default().working(Duration::from_millis(300))).await;
    running.deliver(&[b"k:1", b"k:2", b"k:3", b"other:1"]).await;
    let handler = running.stop().await;
    let runs: Vec<_> = ["k:1", "k:2", "k:3"].iter().map(|p| handler.handled(p)[0]).collect();
    for pair in runs.windows(2) {
        assert!(pair[1].1 >= pair[0].2, "a message sharing the key starts after the earlier one finished");
    }
    let other = handler.handled("other:1")[0];
    assert!(other.1 < runs[0].2, "another key does not wait for the first key's messages");
}

#[tokio::test]
async fn shutdown_waits_for_the_handler_in_flight() {
    let running = Running::start(5, 2, Scripted::default().working(Duration::from_millis(800))).await;
    let sequence = running.bus.publish(b"slow").await;
    let started = running.handler.record.clone();
    until("the handler has started", || !started.lock().expect("lock").started.is_empty()).await;
    running.shutdown.cancel();
    let Running { bus, handler, task, .. } = running;
    task.await.expect("runner");
    assert_eq!(handler.handled("slow").len(), 1, "the runner returned only after the handler finished");
    bus.settled(sequence).await;
    bus.cleanup().await;
}
