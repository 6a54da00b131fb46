//! The fake Discord driven by serenity itself — a `serenity::Client` with an `EventHandler` and
//! its HTTP client behind `HttpBuilder::proxy`, no help desk code — so the chat tests can trust
//! that what serenity sees and sends here is what it would see and send at Discord.

use std::{sync::Arc, time::Duration};

use helpdesk_tests::discord::{FakeDiscord, Fault};
use serenity::{
    all::{
        ChannelId, CommandInteraction, ComponentInteraction, Context, CreateAttachment, CreateInteractionResponse,
        CreateInteractionResponseMessage, CreateMessage, CreateThread, EventHandler, GatewayIntents, GetMessages,
        GuildChannel, HttpError, Interaction, Message, MessageId, ModalInteraction, Nonce, Ready, ResumedEvent,
    },
    async_trait,
    http::{Http, HttpBuilder},
};
use tokio::sync::mpsc;

/// What the bot's event handler saw, in order.
#[derive(Debug, Clone, PartialEq)]
enum Seen {
    Ready { application_id: u64 },
    Resumed,
    Message { id: u64, channel: u64, author: u64, bot: bool, content: String, attachment_urls: Vec<String> },
    ThreadCreate { id: u64, parent: Option<u64> },
    Guild { id: u64, channels: Vec<u64>, threads: Vec<u64> },
    Edited { id: u64, content: Option<String> },
    Deleted { id: u64, channel: u64 },
    Command { name: String, subcommand: Option<String>, options: Vec<(String, String)> },
    Modal { custom_id: String, fields: Vec<(String, String)> },
    Button { custom_id: String, message: u64 },
}

struct Recorder(mpsc::UnboundedSender<Seen>);

/// A user's message without attachments, as the handler records it.
fn from_user(id: u64, channel: u64, author: &helpdesk_tests::discord::User, content: &str) -> Seen {
    Seen::Message { id, channel, author: author.id, bot: false, content: content.into(), attachment_urls: vec![] }
}

impl Recorder {
    fn saw(&self, seen: Seen) {
        let _ = self.0.send(seen);
    }
}

#[async_trait]
impl EventHandler for Recorder {
    async fn ready(&self, _: Context, ready: Ready) {
        self.saw(Seen::Ready { application_id: ready.application.id.get() });
    }

    async fn resume(&self, _: Context, _: ResumedEvent) {
        self.saw(Seen::Resumed);
    }

    async fn message(&self, _: Context, message: Message) {
        self.saw(Seen::Message {
            id: message.id.get(),
            channel: message.channel_id.get(),
            author: message.author.id.get(),
            bot: message.author.bot,
            content: message.content.clone(),
            attachment_urls: message.attachments.iter().map(|attachment| attachment.url.clone()).collect(),
        });
    }

    async fn guild_create(&self, _: Context, guild: serenity::all::Guild, _: Option<bool>) {
        let mut channels: Vec<u64> = guild.channels.keys().map(|id| id.get()).collect();
        channels.sort_unstable();
        let threads = guild.threads.iter().map(|thread| thread.id.get()).collect();
        self.saw(Seen::Guild { id: guild.id.get(), channels, threads });
    }

    async fn message_update(&self, _: Context, _: Option<Message>, _: Option<Message>, event: serenity::all::MessageUpdateEvent) {
        self.saw(Seen::Edited { id: event.id.get(), content: event.content });
    }

    async fn message_delete(&self, _: Context, channel: ChannelId, message: MessageId, _: Option<serenity::all::GuildId>) {
        self.saw(Seen::Deleted { id: message.get(), channel: channel.get() });
    }

    async fn thread_create(&self, _: Context, thread: GuildChannel) {
        self.saw(Seen::ThreadCreate { id: thread.id.get(), parent: thread.parent_id.map(ChannelId::get) });
    }

    async fn interaction_create(&self, context: Context, interaction: Interaction) {
        match interaction {
            Interaction::Command(command) => self.command(&context, command).await,
            Interaction::Modal(modal) => self.modal(&context, modal).await,
            Interaction::Component(component) => self.button(&context, component).await,
            _ => {}
        }
    }
}

impl Recorder {
    async fn command(&self, context: &Context, command: CommandInteraction) {
        let mut subcommand = None;
        let mut options = Vec::new();
        for option in &command.data.options {
            match &option.value {
                serenity::all::CommandDataOptionValue::SubCommand(inner) => {
                    subcommand = Some(option.name.clone());
                    options.extend(inner.iter().filter_map(|o| Some((o.name.clone(), o.value.as_str()?.to_owned()))));
                }
                value => options.extend(value.as_str().map(|v| (option.name.clone(), v.to_owned()))),
            }
        }
        self.saw(Seen::Command { name: command.data.name.clone(), subcommand, options });
        let reply = CreateInteractionResponseMessage::new().content(format!("hello {}", command.user.name));
        command.create_response(&context.http, CreateInteractionResponse::Message(reply)).await.expect("answer the command");
    }

    async fn modal(&self, context: &Context, modal: ModalInteraction) {
        let fields = modal
            .data
            .components
            .iter()
            .flat_map(|row| &row.components)
            .filter_map(|component| match component {
                serenity::all::ActionRowComponent::InputText(input) => {
                    Some((input.custom_id.clone(), input.value.clone().unwrap_or_default()))
                }
                _ => None,
            })
            .collect();
        self.saw(Seen::Modal { custom_id: modal.data.custom_id.clone(), fields });
        modal.create_response(&context.http, CreateInteractionResponse::Defer(CreateInteractionResponseMessage::new())).await.expect("defer the modal");
        modal
            .edit_response(&context.http, serenity::all::EditInteractionResponse::new().content("ticket opened"))
            .await
            .expect("edit the deferred response");
    }

    async fn button(&self, context: &Context, component: ComponentInteraction) {
        self.saw(Seen::Button { custom_id: component.data.custom_id.clone(), message: component.message.id.get() });
        component.create_response(&context.http, CreateInteractionResponse::Acknowledge).await.expect("acknowledge the click");
    }
}

/// A running serenity client against the fake, and what its handler saw.
struct Bot {
    http: Arc<Http>,
    seen: mpsc::UnboundedReceiver<Seen>,
    shard_manager: Arc<serenity::gateway::ShardManager>,
}

impl Drop for Bot {
    fn drop(&mut self) {
        let shard_manager = Arc::clone(&self.shard_manager);
        tokio::spawn(async move { shard_manager.shutdown_all().await });
    }
}

fn http(fake: &FakeDiscord) -> Http {
    helpdesk_tests::install_tls_provider();
    HttpBuilder::new(FakeDiscord::TOKEN).proxy(fake.api_url()).ratelimiter_disabled(true).build()
}

async fn connect(fake: &FakeDiscord) -> Bot {
    let intents = GatewayIntents::GUILDS
        | GatewayIntents::GUILD_MESSAGES
        | GatewayIntents::DIRECT_MESSAGES
        | GatewayIntents::MESSAGE_CONTENT;
    connect_with(fake, intents).await
}

async fn connect_with(fake: &FakeDiscord, intents: GatewayIntents) -> Bot {
    if std::env::var_os("TEST_LOG").is_some() {
        let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into());
        let _ = tracing_subscriber::fmt().with_env_filter(filter).with_test_writer().try_init();
    }
    let (sender, seen) = mpsc::unbounded_channel();
    // The proxied Http serves REST and the gateway URL (`GET /gateway`) alike.
    let mut client = serenity::client::ClientBuilder::new_with_http(http(fake), intents)
        .event_handler(Recorder(sender))
        .await
        .expect("build the serenity client");
    let http = Arc::clone(&client.http);
    let shard_manager = Arc::clone(&client.shard_manager);
    tokio::spawn(async move {
        let _ = client.start().await;
    });
    let mut bot = Bot { http, seen, shard_manager };
    let ready = bot.next(|seen| matches!(seen, Seen::Ready { .. })).await;
    assert_eq!(ready, Seen::Ready { application_id: FakeDiscord::APPLICATION_ID });
    bot
}

impl Bot {
    /// The next event that `wanted` picks (others are skipped); fails after 10 s.
    async fn next(&mut self, wanted: impl Fn(&Seen) -> bool) -> Seen {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            match tokio::time::timeout_at(deadline, self.seen.recv()).await {
                Ok(Some(seen)) if wanted(&seen) => return seen,
                Ok(Some(_)) => {}
                Ok(None) => panic!("the serenity client stopped"),
                Err(_) => panic!("timed out waiting for a gateway event"),
            }
        }
    }

    async fn next_message(&mut self) -> Seen {
        self.next(|seen| matches!(seen, Seen::Message { bot: false, .. })).await
    }
}

#[tokio::test]
async fn serenity_connects_and_receives_a_users_message_and_its_own_post() {
    let fake = FakeDiscord::start().await;
    let guild = fake.add_guild("Acme");
    let support = fake.add_text_channel(guild, "support");
    let alice = fake.user("alice");
    let mut bot = connect(&fake).await;
    assert_eq!((fake.identifies(), fake.connected_sessions()), (1, 1));

    let sent = fake.send(support, &alice, "my printer is on fire").await;
    let seen = bot.next_message().await;
    assert_eq!(
        seen,
        from_user(sent, support, &alice, "my printer is on fire")
    );

    let posted = ChannelId::new(support).say(&bot.http, "we are on it").await.expect("the bot posts");
    let echoed = bot.next(|seen| matches!(seen, Seen::Message { bot: true, .. })).await;
    assert_eq!(
        echoed,
        Seen::Message {
            id: posted.id.get(),
            channel: support,
            author: FakeDiscord::BOT_USER_ID,
            bot: true,
            content: "we are on it".into(),
            attachment_urls: vec![],
        }
    );
    assert!(posted.id.get() > sent, "snowflakes grow with time");
    let dm = fake.dm_channel(&alice);
    let opened = alice_dm(&bot.http, alice.id).await;
    assert_eq!(opened, dm, "POST /users/@me/channels returns the user's DM channel");
}

async fn alice_dm(http: &Http, user: u64) -> u64 {
    serenity::all::UserId::new(user).create_dm_channel(http).await.expect("open the DM").id.get()
}

#[tokio::test]
async fn a_nonce_with_enforce_nonce_posts_once() {
    let fake = FakeDiscord::start().await;
    let channel = fake.add_text_channel(fake.add_guild("Acme"), "support");
    let http = http(&fake);
    let post = || CreateMessage::new().content("reply 1").nonce(Nonce::String("reply-1".into())).enforce_nonce(true);
    let first = ChannelId::new(channel).send_message(&http, post()).await.expect("first post");
    let second = ChannelId::new(channel).send_message(&http, post()).await.expect("second post");
    assert_eq!(first.id, second.id, "the second create answers the first message");
    let posted = fake.posted(channel);
    assert_eq!(posted.len(), 1);
    assert_eq!(posted[0].nonce.as_deref(), Some("reply-1"));
    assert_eq!(fake.create_message_requests(channel), 2);

    // serenity refuses over 2,000 characters itself; the fake refuses what gets past it.
    let too_long = "x".repeat(2001);
    let local = ChannelId::new(channel).say(&http, &too_long).await.expect_err("serenity's own check");
    assert!(matches!(local, serenity::Error::Model(serenity::all::ModelError::MessageTooLong(1))), "{local:?}");
    let refused = raw_post(&fake, &format!("/channels/{channel}/messages"), serde_json::json!({ "content": too_long })).await;
    assert_eq!(refused.status(), 400);
    let body: serde_json::Value = refused.json().await.expect("error body");
    assert_eq!(body["code"], 50035);
    assert_eq!(body["errors"]["content"]["_errors"][0]["code"], "BASE_TYPE_MAX_LENGTH");
    let long_nonce = serde_json::json!({ "content": "x", "nonce": "n".repeat(26), "enforce_nonce": true });
    assert_eq!(raw_post(&fake, &format!("/channels/{channel}/messages"), long_nonce).await.status(), 400, "nonces have at most 25 characters");
    assert_eq!(fake.posted(channel).len(), 1);
    assert_eq!(fake.create_message_requests(channel), 4);
}

/// A request serenity would not send, straight to the fake with the bot's token.
async fn raw_post(fake: &FakeDiscord, path: &str, body: serde_json::Value) -> reqwest::Response {
    helpdesk_tests::http()
        .post(format!("{}/api/v10{path}", fake.api_url()))
        .header("authorization", format!("Bot {}", FakeDiscord::TOKEN))
        .json(&body)
        .send()
        .await
        .expect("raw request to the fake")
}

/// The Discord error code of a failed request (`-1` when the body had none, as in a 429).
fn discord_code(error: &serenity::Error) -> Option<isize> {
    match error {
        serenity::Error::Http(HttpError::UnsuccessfulRequest(response)) => Some(response.error.code),
        _ => None,
    }
}

fn status(error: &serenity::Error) -> Option<u16> {
    match error {
        serenity::Error::Http(http) => http.status_code().map(|status| status.as_u16()),
        _ => None,
    }
}

#[tokio::test]
async fn faults_reach_serenity_as_discord_answers_them() {
    let fake = FakeDiscord::start().await;
    let channel = fake.add_text_channel(fake.add_guild("Acme"), "support");
    let http = http(&fake);
    let path = format!("/channels/{channel}/messages");

    fake.fail_next("POST", &path, Fault::RateLimited { retry_after: 0.3, global: false });
    let limited = ChannelId::new(channel).say(&http, "one").await.expect_err("rate limited");
    assert_eq!(status(&limited), Some(429));
    // A 429 body has no `code`, so serenity 0.12 cannot decode it into DiscordJsonError: the code
    // reads -1 and `retry_after` (body and headers) is lost — the caller backs off on its own.
    assert_eq!(discord_code(&limited), Some(-1));
    // The raw answer carries what Discord sends.
    fake.fail_next("POST", &path, Fault::RateLimited { retry_after: 0.3, global: false });
    let raw = raw_post(&fake, &path, serde_json::json!({ "content": "raw" })).await;
    assert_eq!(raw.status(), 429);
    assert_eq!(raw.headers()["retry-after"], "1");
    assert_eq!(raw.headers()["x-ratelimit-reset-after"], "0.300");
    let body: serde_json::Value = raw.json().await.expect("429 body");
    assert_eq!(body, serde_json::json!({ "message": "You are being rate limited.", "retry_after": 0.3, "global": false }));

    fake.fail_next("POST", &path, Fault::Forbidden);
    let forbidden = ChannelId::new(channel).say(&http, "two").await.expect_err("forbidden");
    assert_eq!((status(&forbidden), discord_code(&forbidden)), (Some(403), Some(50013)));

    let sent = ChannelId::new(channel).say(&http, "three").await.expect("the faults were used up");
    assert_eq!(fake.posted(channel).iter().map(|p| p.id).collect::<Vec<_>>(), vec![sent.id.get()]);
    assert_eq!(fake.create_message_requests(channel), 4, "the raw request is counted too");

    let thread = ChannelId::new(channel).create_thread_from_message(&http, sent.id, CreateThread::new("t")).await.expect("thread");
    fake.archive(thread.id.get());
    let archived = thread.id.say(&http, "late").await.expect_err("archived");
    assert_eq!((status(&archived), discord_code(&archived)), (Some(400), Some(50083)));
    thread.id.edit_thread(&http, serenity::all::EditThread::new().archived(false)).await.expect("unarchive");
    thread.id.say(&http, "back").await.expect("posting in an unarchived thread");

    fake.delete_channel(channel);
    let gone = ChannelId::new(channel).say(&http, "gone").await.expect_err("deleted");
    assert_eq!((status(&gone), discord_code(&gone)), (Some(404), Some(10003)));
    assert!(fake.unhandled_requests().is_empty(), "{:?}", fake.unhandled_requests());
}

#[tokio::test]
async fn history_pages_after_an_id_like_discord() {
    let fake = FakeDiscord::start().await;
    let channel = fake.add_text_channel(fake.add_guild("Acme"), "support");
    let bob = fake.user("bob");
    let mut ids = Vec::new();
    for n in 0..5 {
        ids.push(fake.send(channel, &bob, &format!("message {n}")).await);
    }
    let http = http(&fake);
    let page = ChannelId::new(channel)
        .messages(&http, GetMessages::new().after(MessageId::new(ids[0])).limit(2))
        .await
        .expect("a page of history");
    let page_ids: Vec<u64> = page.iter().map(|message| message.id.get()).collect();
    assert_eq!(page_ids, vec![ids[2], ids[1]], "the two messages right after, newest first");
    let newest = ChannelId::new(channel).messages(&http, GetMessages::new().limit(100)).await.expect("newest");
    assert_eq!(newest.len(), 5);
    assert_eq!(newest[0].id.get(), ids[4]);
    let past_end = ChannelId::new(channel).messages(&http, GetMessages::new().after(MessageId::new(ids[4]))).await.expect("empty page");
    assert!(past_end.is_empty());
}

#[tokio::test]
async fn a_thread_from_a_message_is_created_once() {
    let fake = FakeDiscord::start().await;
    let channel = fake.add_text_channel(fake.add_guild("Acme"), "support");
    let carol = fake.user("carol");
    let mut bot = connect(&fake).await;
    let question = fake.send(channel, &carol, "help").await;
    let thread = ChannelId::new(channel)
        .create_thread_from_message(&bot.http, MessageId::new(question), CreateThread::new("Ticket #1"))
        .await
        .expect("create the thread");
    assert_eq!(thread.id.get(), question, "a thread from a message has the message's id");
    assert_eq!(thread.parent_id.map(ChannelId::get), Some(channel));
    assert_eq!(bot.next(|seen| matches!(seen, Seen::ThreadCreate { .. })).await, Seen::ThreadCreate { id: question, parent: Some(channel) });
    assert_eq!(fake.threads_of(channel), vec![question]);
    assert_eq!(fake.thread_parent_message(question), Some(question));
    assert_eq!(fake.channel_json(question)["name"], "Ticket #1");

    let again = ChannelId::new(channel)
        .create_thread_from_message(&bot.http, MessageId::new(question), CreateThread::new("Ticket #1 again"))
        .await
        .expect_err("a second thread for the same message");
    assert_eq!(discord_code(&again), Some(160004));

    let reply = fake.send(question, &carol, "in the thread").await;
    assert_eq!(bot.next_message().await, from_user(reply, question, &carol, "in the thread"));
}

#[tokio::test]
async fn dropped_connections_resume_and_replay_missed_and_duplicate_dispatches() {
    let fake = FakeDiscord::start().await;
    let channel = fake.add_text_channel(fake.add_guild("Acme"), "support");
    let dave = fake.user("dave");
    let mut bot = connect(&fake).await;
    let before = fake.send(channel, &dave, "before the drop").await;
    assert!(matches!(bot.next_message().await, Seen::Message { id, .. } if id == before));

    fake.replay_on_resume(true);
    fake.drop_connections().await;
    let during = fake.send(channel, &dave, "while disconnected").await;
    // serenity runs each handler call as its own task, so the order of these may vary.
    let mut seen = Vec::new();
    while seen.len() < 3 {
        seen.push(bot.next(|seen| matches!(seen, Seen::Resumed | Seen::Message { bot: false, .. })).await);
    }
    let messages: std::collections::BTreeSet<u64> =
        seen.iter().filter_map(|seen| if let Seen::Message { id, .. } = seen { Some(*id) } else { None }).collect();
    assert!(seen.contains(&Seen::Resumed), "{seen:?}");
    assert_eq!(messages, [before, during].into(), "the one seen before the drop again, and the missed one");
    assert_eq!((fake.resumes(), fake.identifies()), (1, 1));
    helpdesk_tests::eventually("the session is connected again", async || fake.connected_sessions() == 1).await;
}

#[tokio::test]
async fn interactions_arrive_and_their_responses_are_recorded() {
    let fake = FakeDiscord::start().await;
    let guild = fake.add_guild("Acme");
    let channel = fake.add_text_channel(guild, "support");
    let erin = fake.user("erin");
    let mut bot = connect(&fake).await;

    let command = serenity::all::CreateCommand::new("ticket")
        .description("Your tickets")
        .add_option(serenity::all::CreateCommandOption::new(
            serenity::all::CommandOptionType::SubCommand,
            "open",
            "Open a ticket",
        ));
    serenity::all::Command::set_global_commands(&bot.http, vec![command]).await.expect("register commands");
    assert_eq!(fake.registered_commands()["global"][0]["name"], "ticket");

    let interaction = fake.slash_command(channel, &erin, "ticket", Some("open"), &[("subject", "broken")]).await;
    assert_eq!(
        bot.next(|seen| matches!(seen, Seen::Command { .. })).await,
        Seen::Command { name: "ticket".into(), subcommand: Some("open".into()), options: vec![("subject".into(), "broken".into())] }
    );
    let response = fake.wait_interaction_response(interaction).await;
    assert_eq!(response["type"], 4);
    assert_eq!(response["data"]["content"], "hello erin");

    let modal = fake.submit_modal(channel, &erin, "new-ticket", &[("subject", "Printer"), ("body", "It burns")]).await;
    assert_eq!(
        bot.next(|seen| matches!(seen, Seen::Modal { .. })).await,
        Seen::Modal {
            custom_id: "new-ticket".into(),
            fields: vec![("subject".into(), "Printer".into()), ("body".into(), "It burns".into())]
        }
    );
    helpdesk_tests::eventually("the modal's deferred response was edited", async || fake.interaction_responses(modal).len() == 2).await;
    let responses = fake.interaction_responses(modal);
    assert_eq!(responses[0]["type"], 5);
    assert_eq!(responses[1]["content"], "ticket opened");
    let history = ChannelId::new(channel).messages(&bot.http, GetMessages::new()).await.expect("history");
    let contents: Vec<&str> = history.iter().map(|message| message.content.as_str()).collect();
    assert_eq!(contents, ["ticket opened", "hello erin"], "public responses are messages in the channel");
    assert!(history.iter().all(|message| message.author.id.get() == FakeDiscord::BOT_USER_ID));

    let button = serenity::all::CreateButton::new("close").label("Close").style(serenity::all::ButtonStyle::Danger);
    let with_button = ChannelId::new(channel)
        .send_message(&bot.http, CreateMessage::new().content("Ticket #1").button(button))
        .await
        .expect("post with a button");
    assert_eq!(fake.posted(channel)[0].components[0]["components"][0]["custom_id"], "close");
    let click = fake.click_button(channel, &erin, with_button.id.get(), "close").await;
    assert_eq!(
        bot.next(|seen| matches!(seen, Seen::Button { .. })).await,
        Seen::Button { custom_id: "close".into(), message: with_button.id.get() }
    );
    assert_eq!(fake.wait_interaction_response(click).await["type"], 6);
    assert!(fake.unhandled_requests().is_empty(), "{:?}", fake.unhandled_requests());
}

#[tokio::test]
async fn uploads_keep_their_bytes_both_ways() {
    let fake = FakeDiscord::start().await;
    let guild = fake.add_guild("Acme");
    let channel = fake.add_text_channel(guild, "support");
    let frank = fake.user("frank");
    let mut bot = connect(&fake).await;
    let bytes: Vec<u8> = (0..=255).collect();

    let sent = ChannelId::new(channel)
        .send_message(&bot.http, CreateMessage::new().content("the log").add_file(CreateAttachment::bytes(bytes.clone(), "log.bin")))
        .await
        .expect("upload");
    let posted = fake.posted(channel);
    assert_eq!(posted[0].files, vec![("log.bin".to_owned(), bytes.clone())]);
    let served = reqwest_bytes(&sent.attachments[0].url).await;
    assert_eq!(served, bytes);

    fake.send_with_files(channel, &frank, "screenshot", &[("shot.png", &[137, 80, 78, 71])]).await;
    let Seen::Message { attachment_urls, .. } = bot.next_message().await else { unreachable!() };
    assert_eq!(attachment_urls.len(), 1);
    assert!(attachment_urls[0].starts_with(&fake.api_url()) && attachment_urls[0].contains("&hm="));
    assert_eq!(reqwest_bytes(&attachment_urls[0]).await, vec![137, 80, 78, 71]);
    let tampered = attachment_urls[0].replace("&hm=", "&hm=0");
    assert_eq!(helpdesk_tests::http().get(tampered).send().await.expect("request").status(), 404);
}

async fn reqwest_bytes(url: &str) -> Vec<u8> {
    let response = helpdesk_tests::http().get(url).send().await.expect("download");
    assert_eq!(response.status(), 200, "{url}");
    response.bytes().await.expect("bytes").to_vec()
}

#[tokio::test]
async fn forum_posts_arrive_as_a_thread_and_its_first_message() {
    let fake = FakeDiscord::start().await;
    let guild = fake.add_guild("Acme");
    let forum = fake.add_forum_channel(guild, "help", &["open", "closed"]);
    let gina = fake.user("gina");
    let mut bot = connect(&fake).await;
    let (thread, message) = fake.start_forum_post(forum, &gina, "VPN down", "since this morning").await;
    assert_eq!(bot.next(|seen| matches!(seen, Seen::ThreadCreate { .. })).await, Seen::ThreadCreate { id: thread, parent: Some(forum) });
    assert_eq!(bot.next_message().await, from_user(message, thread, &gina, "since this morning"));
    let closed = fake.channel_json(forum)["available_tags"][1]["id"].as_str().expect("tag id").parse::<u64>().expect("snowflake");
    ChannelId::new(thread)
        .edit_thread(&bot.http, serenity::all::EditThread::new().applied_tags([serenity::all::ForumTagId::new(closed)]))
        .await
        .expect("tag the post");
    assert_eq!(fake.channel_json(thread)["applied_tags"], serde_json::json!([closed.to_string()]));
    let refused = ChannelId::new(forum).say(&bot.http, "not in a forum").await.expect_err("forums take posts, not messages");
    assert_eq!(discord_code(&refused), Some(50008));
}

#[tokio::test]
async fn guilds_edits_and_deletes_arrive_on_the_gateway() {
    let fake = FakeDiscord::start().await;
    let guild = fake.add_guild("Acme");
    let support = fake.add_text_channel(guild, "support");
    let forum = fake.add_forum_channel(guild, "help", &[]);
    let hank = fake.user("hank");
    let (thread, _) = fake.start_forum_post(forum, &hank, "Before the bot came", "hello?").await;
    let mut bot = connect(&fake).await;
    assert_eq!(
        bot.next(|seen| matches!(seen, Seen::Guild { .. })).await,
        Seen::Guild { id: guild, channels: vec![support, forum], threads: vec![thread] }
    );

    let message = fake.send(support, &hank, "typo").await;
    fake.edit(support, message, "no typo").await;
    assert_eq!(bot.next(|seen| matches!(seen, Seen::Edited { .. })).await, Seen::Edited { id: message, content: Some("no typo".into()) });
    fake.delete(support, message).await;
    assert_eq!(bot.next(|seen| matches!(seen, Seen::Deleted { .. })).await, Seen::Deleted { id: message, channel: support });
    let history = ChannelId::new(support).messages(&bot.http, GetMessages::new()).await.expect("history");
    assert!(history.is_empty(), "a deleted message leaves the history");
}

#[tokio::test]
async fn without_the_message_content_intent_guild_content_arrives_empty() {
    let fake = FakeDiscord::start().await;
    let support = fake.add_text_channel(fake.add_guild("Acme"), "support");
    let ivy = fake.user("ivy");
    let dm = fake.dm_channel(&ivy);
    let mut bot = connect_with(&fake, GatewayIntents::GUILDS | GatewayIntents::GUILD_MESSAGES | GatewayIntents::DIRECT_MESSAGES).await;

    fake.send(support, &ivy, "secret").await;
    let Seen::Message { content, .. } = bot.next_message().await else { unreachable!() };
    assert_eq!(content, "", "guild content needs the privileged intent");
    fake.send(dm, &ivy, "in a DM").await;
    let Seen::Message { content, channel, .. } = bot.next_message().await else { unreachable!() };
    assert_eq!((content.as_str(), channel), ("in a DM", dm), "DMs carry their content anyway");
}

/// The gateway's answers to what serenity never sends wrong, spoken raw.
#[tokio::test]
async fn the_gateway_refuses_a_bad_token_and_an_unknown_session() {
    use futures::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message as Frame;

    let fake = FakeDiscord::start().await;
    let url = format!("{}/?v=10&encoding=json", fake.gateway_url());
    let next_json = async |socket: &mut tokio_tungstenite::WebSocketStream<_>| -> Option<serde_json::Value> {
        match tokio::time::timeout(Duration::from_secs(5), StreamExt::next(socket)).await.expect("a gateway frame") {
            Some(Ok(Frame::Text(text))) => Some(serde_json::from_str(&text).expect("JSON frame")),
            Some(Ok(Frame::Close(frame))) => Some(serde_json::json!({ "close": frame.map(|f| u16::from(f.code)) })),
            _ => None,
        }
    };

    let (mut socket, _) = tokio_tungstenite::connect_async(url.as_str()).await.expect("connect");
    let hello = next_json(&mut socket).await.expect("HELLO");
    assert_eq!(hello["op"], 10);
    assert!(hello["d"]["heartbeat_interval"].as_u64().is_some());
    let identify = serde_json::json!({ "op": 2, "d": { "token": "Bot wrong", "intents": 0, "properties": {} } });
    socket.send(Frame::Text(identify.to_string())).await.expect("send IDENTIFY");
    assert_eq!(next_json(&mut socket).await, Some(serde_json::json!({ "close": 4004 })));

    let (mut socket, _) = tokio_tungstenite::connect_async(url.as_str()).await.expect("connect again");
    next_json(&mut socket).await.expect("HELLO");
    let resume = serde_json::json!({ "op": 6, "d": { "token": FakeDiscord::TOKEN, "session_id": "nope", "seq": 3 } });
    socket.send(Frame::Text(resume.to_string())).await.expect("send RESUME");
    assert_eq!(next_json(&mut socket).await.expect("INVALID_SESSION"), serde_json::json!({ "op": 9, "d": false, "s": null, "t": null }));
    socket.send(Frame::Text(serde_json::json!({ "op": 1, "d": null }).to_string())).await.expect("heartbeat");
    assert_eq!(next_json(&mut socket).await.expect("ACK")["op"], 11);
    assert_eq!((fake.identifies(), fake.resumes(), fake.connected_sessions()), (0, 0, 0));
}

#[tokio::test]
async fn malformed_requests_get_discords_errors_and_are_recorded() {
    let fake = FakeDiscord::start().await;
    let channel = fake.add_text_channel(fake.add_guild("Acme"), "support");
    let messages = format!("{}/api/v10/channels/{channel}/messages", fake.api_url());
    let client = helpdesk_tests::http();
    let bot = format!("Bot {}", FakeDiscord::TOKEN);

    let not_json = client.post(&messages).header("authorization", &bot).header("content-type", "application/json").body("{").send().await.expect("send");
    assert_eq!(not_json.status(), 400);
    assert_eq!(not_json.json::<serde_json::Value>().await.expect("body")["code"], 50109);
    let no_token = client.post(&messages).json(&serde_json::json!({ "content": "hi" })).send().await.expect("send");
    assert_eq!(no_token.status(), 401);
    let odd_reference = serde_json::json!({ "content": "hi", "message_reference": "not an object", "nonce": [1] });
    assert_eq!(raw_post(&fake, &format!("/channels/{channel}/messages"), odd_reference).await.status(), 200);
    let bad_id = client.get(format!("{}/api/v10/channels/abc", fake.api_url())).header("authorization", &bot).send().await.expect("send");
    assert_eq!(bad_id.status(), 400);
    let unknown = client.get(format!("{}/api/v10/stickers/1", fake.api_url())).header("authorization", &bot).send().await.expect("send");
    assert_eq!(unknown.status(), 404);
    assert_eq!(unknown.json::<serde_json::Value>().await.expect("body")["message"], "404: Not Found");

    assert_eq!(fake.unhandled_requests(), vec!["GET /api/v10/stickers/1".to_owned()]);
    let refused = fake.refused_requests();
    assert_eq!(refused.len(), 3, "{refused:?}");
    assert!(refused[0].starts_with(&format!("POST /api/v10/channels/{channel}/messages → 400 50109")), "{refused:?}");
    assert!(refused[1].starts_with(&format!("POST /api/v10/channels/{channel}/messages → 401")), "{refused:?}");
    assert!(refused[2].starts_with("GET /api/v10/channels/abc → 400 50035"), "{refused:?}");
    assert_eq!(fake.posted(channel).len(), 1);
}
