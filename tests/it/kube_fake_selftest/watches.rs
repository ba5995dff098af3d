//! Watches of the fake, through kube's watch API and a kube-runtime reflector.

use std::time::Duration;

use futures_util::StreamExt;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, DeleteParams, PostParams, WatchEvent, WatchParams};
use kube::runtime::{WatchStreamExt, reflector, watcher};
use serde_json::json;

use super::{api_error, eventually, from, namespace};
use crate::kube_fake::FakeCluster;

fn secret(name: &str, team: &str) -> Secret {
    from(json!({"metadata": {"name": name, "labels": {"team": team}}, "stringData": {"k": "v"}}))
}

/// The next event's type and object name, within a second.
async fn next<S>(stream: &mut S) -> (String, String)
where
    S: futures_util::Stream<Item = kube::Result<WatchEvent<Secret>>> + Unpin,
{
    let event = tokio::time::timeout(Duration::from_secs(1), stream.next())
        .await
        .expect("an event within a second")
        .expect("the stream goes on")
        .expect("a decodable event");
    match event {
        WatchEvent::Added(s) => ("ADDED".into(), s.metadata.name.unwrap()),
        WatchEvent::Modified(s) => ("MODIFIED".into(), s.metadata.name.unwrap()),
        WatchEvent::Deleted(s) => ("DELETED".into(), s.metadata.name.unwrap()),
        WatchEvent::Bookmark(_) => ("BOOKMARK".into(), String::new()),
        WatchEvent::Error(e) => (format!("ERROR {}", e.code), e.message),
    }
}

#[tokio::test]
async fn watches_stream_selected_changes_after_a_version() {
    let fake = FakeCluster::start().await;
    let client = fake.client();
    namespace(&client, "w1").await;
    let secrets = Api::<Secret>::namespaced(client.clone(), "w1");
    let pp = PostParams::default();
    secrets.create(&pp, &secret("old", "a")).await.unwrap();
    let listed = secrets.list(&Default::default()).await.unwrap();
    let version = listed.metadata.resource_version.unwrap();

    // From "0": what exists first, as ADDED.
    let params = WatchParams::default().labels("team=a").timeout(5);
    let mut from_now = secrets.watch(&params, "0").await.unwrap().boxed();
    assert_eq!(next(&mut from_now).await, ("ADDED".into(), "old".into()));

    // From the listing's version: only what came after, and only what the selector takes.
    let mut after = secrets.watch(&params, &version).await.unwrap().boxed();
    secrets
        .create(&pp, &secret("other-team", "b"))
        .await
        .unwrap();
    secrets.create(&pp, &secret("new", "a")).await.unwrap();
    secrets
        .delete("old", &DeleteParams::default())
        .await
        .unwrap();
    for stream in [&mut after, &mut from_now] {
        assert_eq!(next(stream).await, ("ADDED".into(), "new".into()));
        assert_eq!(next(stream).await, ("DELETED".into(), "old".into()));
    }
    // Another namespace's objects are not in a namespaced watch.
    namespace(&client, "w2").await;
    Api::<Secret>::namespaced(client.clone(), "w2")
        .create(&pp, &secret("elsewhere", "a"))
        .await
        .unwrap();
    assert!(
        tokio::time::timeout(Duration::from_millis(300), after.next())
            .await
            .is_err(),
        "no event from another namespace"
    );

    // A version the history no longer reaches: 410 Gone, then the stream ends.
    fake.forget_history();
    let mut gone = secrets.watch(&params, &version).await.unwrap().boxed();
    assert_eq!(next(&mut gone).await.0, "ERROR 410");
    assert!(gone.next().await.is_none());

    // Refused watches answer 403 in the API's own format.
    fake.refuse_watches();
    let (code, reason, _) = api_error(secrets.watch(&params, "0").await.err().unwrap());
    assert_eq!((code, reason.as_str()), (403, "Forbidden"));
}

#[tokio::test]
async fn a_reflector_follows_the_fake_and_relists_after_a_gone_version() {
    let fake = FakeCluster::start().await;
    let client = fake.client();
    namespace(&client, "r").await;
    let secrets = Api::<Secret>::namespaced(client.clone(), "r");
    let pp = PostParams::default();
    secrets.create(&pp, &secret("one", "a")).await.unwrap();
    let (store, writer) = reflector::store::<Secret>();
    let stream = reflector::reflector(
        writer,
        watcher(
            Api::<Secret>::all(client.clone()),
            watcher::Config::default().labels("team=a"),
        ),
    )
    .default_backoff();
    let driver = tokio::spawn(stream.for_each(|_| async {}));
    store.wait_until_ready().await.unwrap();
    let names = || {
        let mut names: Vec<String> = store
            .state()
            .iter()
            .filter_map(|s| s.metadata.name.clone())
            .collect();
        names.sort();
        names
    };
    assert_eq!(names(), ["one"]);
    secrets.create(&pp, &secret("two", "a")).await.unwrap();
    eventually("the reflector sees a creation", async || {
        names() == ["one", "two"]
    })
    .await;
    secrets
        .delete("one", &DeleteParams::default())
        .await
        .unwrap();
    eventually("the reflector sees a deletion", async || names() == ["two"]).await;
    // A watch ended by a forgotten history lists again, and sees what changed meanwhile.
    fake.clear_requests();
    fake.forget_history();
    secrets.create(&pp, &secret("three", "a")).await.unwrap();
    eventually("the reflector catches up", async || {
        names() == ["three", "two"]
    })
    .await;
    eventually("the reflector lists again", async || {
        fake.requests()
            .iter()
            .any(|r| r.method == "GET" && r.path == "/api/v1/secrets" && !r.query.contains("watch"))
    })
    .await;
    driver.abort();
}
