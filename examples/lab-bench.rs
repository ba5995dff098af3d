//! Benchmark of the lab on a real engine (scripts/bench-lab.sh): launch-to-answer through the
//! proxy against the engine's own create + start of the same container, and listing 50 services.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use bollard::models::{ContainerCreateBody, HostConfig, PortBinding};
use bollard::query_parameters::{CreateContainerOptionsBuilder, RemoveContainerOptionsBuilder};
use serde_json::json;

const IMAGE: &str = "localhost/onyxia-lite-test:1";
const ROUNDS: usize = 7;

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

async fn until_answers(http: &reqwest::Client, url: &str, host: Option<&str>) {
    loop {
        let mut r = http.get(url);
        if let Some(h) = host {
            r = r.header("host", h);
        }
        if let Ok(resp) = r.send().await
            && resp.status() == 200
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::main]
async fn main() {
    let docker = bollard::Docker::connect_with_defaults().expect("DOCKER_HOST");
    let http = reqwest::Client::builder().no_proxy().build().unwrap();

    // The engine alone: create + start, then the first answer on the published port.
    let mut engine = Vec::new();
    for i in 0..ROUNDS {
        let name = format!("lab-bench-engine-{i}");
        let started = Instant::now();
        let body = ContainerCreateBody {
            image: Some(IMAGE.into()),
            exposed_ports: Some(vec!["8080/tcp".into()]),
            host_config: Some(HostConfig {
                port_bindings: Some(HashMap::from([(
                    "8080/tcp".to_owned(),
                    Some(vec![PortBinding {
                        host_ip: Some("127.0.0.1".into()),
                        host_port: Some(String::new()),
                    }]),
                )])),
                ..Default::default()
            }),
            ..Default::default()
        };
        docker
            .create_container(
                Some(CreateContainerOptionsBuilder::default().name(&name).build()),
                body,
            )
            .await
            .unwrap();
        docker.start_container(&name, None).await.unwrap();
        let inspect = docker.inspect_container(&name, None).await.unwrap();
        let port = inspect.network_settings.unwrap().ports.unwrap()["8080/tcp"]
            .as_ref()
            .unwrap()[0]
            .host_port
            .clone()
            .unwrap();
        until_answers(&http, &format!("http://127.0.0.1:{port}/"), None).await;
        engine.push(started.elapsed());
        docker
            .remove_container(
                &name,
                Some(RemoveContainerOptionsBuilder::default().force(true).build()),
            )
            .await
            .unwrap();
    }

    let mut config = onyxia_lite::Config {
        ephemeral: true,
        port: 0,
        s3_port: 0,
        vault_port: 0,
        ..Default::default()
    };
    config.onyxia.quota_services = 200;
    config.log = "warn".into();
    let listeners = onyxia_lite::Listeners::bind(&config).await.unwrap();
    let platform = onyxia_lite::Platform::start(config, listeners, std::future::pending())
        .await
        .unwrap();
    let base = format!("http://{}", platform.endpoints.main_addr);
    let port = platform.endpoints.main_addr.port();
    let token = platform.identity().token_for("alice", "onyxia").unwrap();
    let install = |name: String| {
        let http = http.clone();
        let base = base.clone();
        let token = token.clone();
        async move {
            let r = http.put(format!("{base}/api/my-lab/app")).bearer_auth(&token)
                .json(&json!({"catalogId": "test", "packageName": "tiny", "packageVersion": "1.0.0", "name": name,
                    "options": {"s3": {"enabled": false}, "vault": {"enabled": false}}}))
                .send().await.unwrap();
            assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
        }
    };
    let delete_all = || async {
        http.delete(format!("{base}/api/my-lab/app?path=&bulk=true"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
    };

    // onyxia-lite: PUT, then the first page through the proxy.
    let mut lab = Vec::new();
    for i in 0..ROUNDS {
        let name = format!("bench-{i}");
        let started = Instant::now();
        install(name.clone()).await;
        until_answers(
            &http,
            &format!("http://127.0.0.1:{port}/"),
            Some(&format!("{name}.localhost:{port}")),
        )
        .await;
        lab.push(started.elapsed());
        delete_all().await;
    }

    // Listing with 50 services.
    for i in 0..50 {
        install(format!("list-{i}")).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let mut listing = Vec::new();
    let mut count = 0;
    for _ in 0..30 {
        let started = Instant::now();
        let r: serde_json::Value = http
            .get(format!("{base}/api/my-lab/services"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        listing.push(started.elapsed());
        count = r["apps"].as_array().unwrap().len();
    }
    delete_all().await;
    platform.shutdown().await.unwrap();

    let (e, l) = (median(engine), median(lab));
    println!(
        "engine create+start to first answer: median {:.0} ms",
        e.as_secs_f64() * 1000.0
    );
    println!(
        "PUT /my-lab/app to first answer through the proxy: median {:.0} ms (+{:.0} ms; target at most +300 ms)",
        l.as_secs_f64() * 1000.0,
        (l.as_secs_f64() - e.as_secs_f64()) * 1000.0
    );
    println!(
        "GET /my-lab/services with {count} services: median {:.1} ms (target under 20 ms)",
        median(listing).as_secs_f64() * 1000.0
    );
}
