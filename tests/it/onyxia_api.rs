//! The Onyxia API's wire shapes and errors, as onyxia-web reads them (no engine needed).

use reqwest::Method;
use serde_json::{Value, json};

use crate::lab_support::{Api, assert_no_null, config_without_engine, status_and_json};
use crate::support::TestPlatform;

#[tokio::test]
async fn public_configuration_describes_the_embedded_components() {
    let tp = TestPlatform::start_with(config_without_engine()).await;
    let r = reqwest::get(format!("{}/api/public/configuration", tp.base))
        .await
        .unwrap();
    assert_eq!(r.headers()["content-type"], "application/json");
    let (status, config) = status_and_json(r).await;
    assert_eq!(status, 200);
    assert_no_null(&config, "configuration");
    assert_eq!(config["oidcConfiguration"]["issuerURI"], tp.issuer);
    assert_eq!(config["oidcConfiguration"]["clientID"], "onyxia");
    let region = &config["regions"][0];
    assert_eq!(region["services"]["expose"]["domain"], "localhost");
    assert_eq!(region["services"]["singleNamespace"], false);
    let s3 = &region["data"]["S3"][0];
    assert_eq!(s3["URL"], tp.running.endpoints.s3_url);
    assert_eq!(s3["sts"]["oidcConfiguration"]["clientID"], "onyxia-minio");
    assert_eq!(s3["sts"]["role"][0]["profileName"], "default");
    assert_eq!(region["vault"]["URL"], tp.running.endpoints.vault_url);
    assert_eq!(region["vault"]["kvEngine"], "onyxia-kv");
    assert_eq!(region["vault"]["role"], "onyxia-user");
    let (status, regions) = status_and_json(
        reqwest::get(format!("{}/api/public/regions", tp.base))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((status, &regions[0]["id"]), (200, &json!("local")));
    let (status, ip) = status_and_json(
        reqwest::get(format!("{}/api/public/ip", tp.base))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((status, ip), (200, json!({"ip": "127.0.0.1"})));
    let health = reqwest::get(format!("{}/api/public/healthcheck", tp.base))
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    tp.stop().await;
}

#[tokio::test]
async fn catalogs_charts_and_schemas() {
    let tp = TestPlatform::start_with(config_without_engine()).await;
    let (status, public) = status_and_json(
        reqwest::get(format!("{}/api/public/catalogs", tp.base))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200);
    assert_no_null(&public, "catalogs");
    let ids: Vec<&str> = public["catalogs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    for id in ["ide", "databases", "test"] {
        assert!(ids.contains(&id), "{ids:?}");
    }
    let test = public["catalogs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "test")
        .unwrap();
    assert_eq!(test["visible"], json!({"user": true, "project": true}));
    let tiny = &test["catalog"]["latestPackages"]["tiny"];
    assert_eq!(tiny["type"], "application");
    assert_eq!(tiny["version"], "1.0.0");
    assert!(
        tiny["defaultValues"]
            .as_str()
            .unwrap()
            .contains("suspend: false")
    );
    for key in ["description", "icon", "home", "sources", "keywords"] {
        assert!(tiny.get(key).is_some(), "{key} missing");
    }
    let ide = public["catalogs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "ide")
        .unwrap();
    for chart in ["jupyter-python", "rstudio", "vscode-python"] {
        assert!(
            ide["catalog"]["latestPackages"][chart].is_object(),
            "{chart}"
        );
    }

    let unauthenticated = reqwest::get(format!("{}/api/my-lab/catalogs", tp.base))
        .await
        .unwrap();
    assert_eq!(unauthenticated.status(), 401);
    assert_eq!(
        unauthenticated.headers()["content-type"],
        "application/problem+json"
    );

    let api = Api::new(&tp, "alice");
    let (status, mine) = api.get("/my-lab/catalogs").await;
    assert_eq!(
        (status, mine["catalogs"].as_array().unwrap().len()),
        (200, ids.len())
    );
    let (status, versions) = api.get("/my-lab/catalogs/test/charts/tiny").await;
    assert_eq!(status, 200);
    assert_eq!(versions[0]["version"], "1.0.0");
    let (status, schema) = api
        .get("/my-lab/schemas/test/charts/tiny/versions/1.0.0")
        .await;
    assert_eq!(status, 200);
    assert_no_null(&schema, "schema");
    assert_eq!(
        schema["properties"]["s3"]["properties"]["accessKeyId"]["x-onyxia"]["overwriteDefaultWith"],
        "{{s3.AWS_ACCESS_KEY_ID}}"
    );
    assert_eq!(
        api.get("/my-lab/schemas/test/charts/tiny/versions/9.9.9")
            .await
            .0,
        404
    );
    assert_eq!(api.get("/my-lab/catalogs/test/charts/nope").await.0, 404);
    assert_eq!(api.get("/my-lab/catalogs/nope/charts/tiny").await.0, 404);
    assert_eq!(api.get("/nothing-here").await.0, 404);
    // onyxia-api's "no profile schema" is an empty 200.
    let r = api
        .request(Method::GET, "/profile/schema")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.text().await.unwrap(), "");
    tp.stop().await;
}

#[tokio::test]
async fn extra_catalog_directories_and_charts_without_schema() {
    let dir = tempfile::tempdir().unwrap();
    let chart = dir.path().join("mine/hello");
    std::fs::create_dir_all(&chart).unwrap();
    std::fs::write(dir.path().join("mine/catalog.toml"), "id = \"mine\"\nname = { en = \"Mine\", fr = \"Le mien\" }\nrestrictions = [{ userAttribute = { key = \"groups\", matches = \"teachers\" } }]\n").unwrap();
    std::fs::write(
        chart.join("Chart.yaml"),
        "name: hello\nversion: 0.1.0\ndescription: Hello\n",
    )
    .unwrap();
    std::fs::write(chart.join("values.yaml"), "greeting: hi\n").unwrap();
    std::fs::write(
        chart.join("launch.yaml"),
        "image: \"{{ greeting }}\"\nport: 80\n",
    )
    .unwrap();
    let mut config = config_without_engine();
    config.onyxia.catalog = Some(dir.path().to_owned());
    let tp = TestPlatform::start_with(config).await;
    // Restricted to the teachers group: hidden from anonymous callers and from alice.
    let (_, public) = status_and_json(
        reqwest::get(format!("{}/api/public/catalogs", tp.base))
            .await
            .unwrap(),
    )
    .await;
    assert!(
        !public["catalogs"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["id"] == "mine")
    );
    let alice = Api::new(&tp, "alice");
    let (_, theirs) = alice.get("/my-lab/catalogs").await;
    assert!(
        !theirs["catalogs"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["id"] == "mine")
    );
    let teacher = Api::new(&tp, "teacher");
    let (_, mine) = teacher.get("/my-lab/catalogs").await;
    let catalog = mine["catalogs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "mine")
        .unwrap();
    assert_eq!(catalog["name"]["fr"], "Le mien");
    let r = teacher
        .request(
            Method::GET,
            "/my-lab/schemas/mine/charts/hello/versions/0.1.0",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.text().await.unwrap(), "", "no schema is an empty body");
    tp.stop().await;
}

#[tokio::test]
async fn bad_catalogs_stop_the_start_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("broken/x")).unwrap();
    std::fs::write(
        dir.path().join("broken/catalog.toml"),
        "id = \"broken\"\nname = \"Broken\"\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("broken/x/Chart.yaml"),
        "name: x\nversion: 1.0.0\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("broken/x/launch.yaml"),
        "image: \"{{ unclosed \"\nport: 80\n",
    )
    .unwrap();
    let mut config = config_without_engine();
    config.onyxia.catalog = Some(dir.path().to_owned());
    let listeners = onyxia_lite::Listeners::bind(&config).await.unwrap();
    let err = onyxia_lite::Platform::start(config, listeners, std::future::pending())
        .await
        .err()
        .expect("refused");
    let message = err.to_string();
    assert!(
        message.contains("broken/x") && message.contains("launch.yaml"),
        "{message}"
    );
}

#[tokio::test]
async fn user_info_and_projects() {
    let tp = TestPlatform::start_with(config_without_engine()).await;
    let mut bob = Api::new(&tp, "bob");
    let (status, info) = bob.get("/user/info").await;
    assert_eq!(status, 200);
    assert_no_null(&info, "user/info");
    assert_eq!(info["idep"], "bob");
    let projects = info["projects"].as_array().unwrap();
    assert_eq!(
        projects.iter().filter(|p| p.get("group").is_none()).count(),
        1,
        "{projects:?}"
    );
    assert_eq!(
        projects[0],
        json!({"id": "user-bob", "name": "bob personal project", "namespace": "user-bob", "vaultTopDir": "user-bob"})
    );
    assert_eq!(
        projects[1],
        json!({"id": "projet-demo", "name": "projet-demo", "group": "demo", "namespace": "projet-demo", "vaultTopDir": "projet-demo"})
    );

    bob.project = Some("PROJET-DEMO".into());
    assert_eq!(
        bob.get("/my-lab/services").await,
        (200, json!({"apps": [], "groups": []}))
    );
    bob.project = Some("projet-other".into());
    let (status, problem) = bob.get("/my-lab/services").await;
    assert_eq!(
        (status, problem["title"].as_str()),
        (403, Some("Access denied"))
    );

    assert_eq!(
        bob.send(Method::POST, "/onboarding", &json!({})).await.0,
        200
    );
    assert_eq!(
        bob.send(Method::POST, "/onboarding", &json!({"group": "demo"}))
            .await
            .0,
        200
    );
    assert_eq!(
        bob.send(Method::POST, "/onboarding", &json!({"group": "teachers"}))
            .await
            .0,
        403
    );

    let expired = reqwest::Client::new()
        .get(format!("{}/api/user/info", tp.base))
        .bearer_auth("not.a.token")
        .send()
        .await
        .unwrap();
    assert_eq!(expired.status(), 401);
    assert_eq!(expired.headers()["www-authenticate"], "Bearer");
    tp.stop().await;
}

#[tokio::test]
async fn installs_are_validated_before_anything_runs() {
    let tp = TestPlatform::start_with(config_without_engine()).await;
    let api = Api::new(&tp, "alice");
    let install = |body: Value| {
        let api = &api;
        async move { api.send(Method::PUT, "/my-lab/app", &body).await }
    };
    let base = json!({"catalogId": "test", "packageName": "tiny", "packageVersion": "1.0.0", "name": "tiny-1", "options": {}});
    let with = |patch: Value| {
        let mut b = base.clone();
        for (k, v) in patch.as_object().unwrap() {
            b[k] = v.clone();
        }
        b
    };

    let (status, problem) = install(with(
        json!({"options": {"resources": {"limits": {"cpu": "lots"}}, "message": 42}}),
    ))
    .await;
    assert_eq!(
        (status, problem["title"].as_str()),
        (400, Some("Validation failed"))
    );
    let errors: Vec<&str> = problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e.as_str().unwrap())
        .collect();
    assert!(
        errors
            .iter()
            .any(|e| e.starts_with("/resources/limits/cpu")),
        "{errors:?}"
    );
    assert!(
        errors.iter().any(|e| e.starts_with("/message")),
        "{errors:?}"
    );
    assert_eq!(install(with(json!({"name": "Bad_Name"}))).await.0, 400);
    assert_eq!(install(with(json!({"name": "a".repeat(54)}))).await.0, 400);
    assert_eq!(install(with(json!({"packageName": "nope"}))).await.0, 404);
    assert_eq!(
        install(with(json!({"packageVersion": "9.9.9"}))).await.0,
        404
    );
    assert_eq!(install(with(json!({"catalogId": "nope"}))).await.0, 404);
    let r = api
        .request(Method::PUT, "/my-lab/app")
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(r.headers()["content-type"], "application/problem+json");
    assert_eq!(install(with(json!({"dryRun": true}))).await.0, 200);

    // Valid, but nothing can run it: 503 saying what to start.
    let (status, problem) = install(base.clone()).await;
    assert_eq!(status, 503);
    let detail = problem["detail"].as_str().unwrap();
    assert!(
        detail.contains("Docker") && detail.contains("Podman"),
        "{detail}"
    );

    assert_eq!(api.get("/my-lab/app?serviceId=tiny-1").await.0, 404);
    assert_eq!(
        api.send(
            Method::POST,
            "/my-lab/app/rename",
            &json!({"serviceID": "tiny-1", "friendlyName": "x"})
        )
        .await
        .0,
        404
    );
    assert_eq!(
        api.send(
            Method::POST,
            "/my-lab/app/suspend",
            &json!({"serviceId": "tiny-1"})
        )
        .await
        .0,
        400,
        "the field is serviceID"
    );
    let r = api
        .request(Method::DELETE, "/my-lab/app?path=tiny-1")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let (status, quota) = api.get("/my-lab/quota").await;
    assert_eq!(status, 200);
    assert_eq!(
        quota,
        json!({"spec": {"count/pods": 20}, "usage": {"count/pods": 0}})
    );
    tp.stop().await;
}

#[tokio::test]
async fn operator_regions_and_an_external_issuer() {
    let keycloak = crate::support::external_provider().await;
    let dir = tempfile::tempdir().unwrap();
    let regions = dir.path().join("regions.json");
    let region = json!([{
        "id": "paris", "name": "Paris",
        "services": {
            "singleNamespace": false,
            "expose": {"domain": "lab.example.org"},
            "quotas": {"userEnabled": true, "user": {"requests.cpu": "2", "count/pods": 3}},
            "server": {"URL": "https://kube.example.org", "auth": {"token": "kube-secret"}},
            "monitoring": null
        },
        "data": {"S3": {"URL": "https://minio.example.org"}},
        "vault": {"URL": "https://vault.example.org", "kvEngine": "kv", "role": "r", "prefix": "u-"}
    }]);
    std::fs::write(&regions, region.to_string()).unwrap();
    let mut config = config_without_engine();
    config.onyxia.regions = Some(regions.clone());
    config.onyxia.external_issuer = Some(keycloak.issuer.clone());
    let tp = TestPlatform::start_with(config.clone()).await;

    let (_, configuration) = status_and_json(
        reqwest::get(format!("{}/api/public/configuration", tp.base))
            .await
            .unwrap(),
    )
    .await;
    assert_no_null(&configuration, "configuration");
    assert_eq!(
        configuration["oidcConfiguration"]["issuerURI"],
        keycloak.issuer
    );
    let served = &configuration["regions"][0];
    assert_eq!(served["id"], "paris");
    assert!(
        served["services"].get("server").is_none(),
        "the kube server block is never served"
    );
    assert!(!configuration.to_string().contains("kube-secret"));
    assert_eq!(served["data"]["S3"]["URL"], "https://minio.example.org");

    // A token of the external provider is accepted; projects follow the operator's region.
    let tokens = crate::support::password_grant(&keycloak, "onyxia", "alice", "alice").await;
    let external = reqwest::Client::new()
        .get(format!("{}/api/user/info", tp.base))
        .bearer_auth(tokens["access_token"].as_str().unwrap())
        .header("ONYXIA-REGION", "nowhere")
        .send()
        .await
        .unwrap();
    let (status, info) = status_and_json(external).await;
    assert_eq!(status, 200, "{info}");
    assert_eq!(info["projects"][0]["vaultTopDir"], "u-alice");
    let quota = reqwest::Client::new()
        .get(format!("{}/api/my-lab/quota", tp.base))
        .bearer_auth(tokens["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    let (status, quota) = status_and_json(quota).await;
    assert_eq!(status, 200);
    assert_eq!(quota["spec"], json!({"requests.cpu": "2", "count/pods": 3}));
    // Group projects have no quota in this region: 403 means "disabled" to the web.
    let quota = reqwest::Client::new()
        .get(format!("{}/api/my-lab/quota", tp.base))
        .bearer_auth(tokens["access_token"].as_str().unwrap())
        .header("ONYXIA-PROJECT", "projet-demo")
        .send()
        .await
        .unwrap();
    assert_eq!(quota.status(), 403);
    // Only the external provider's tokens count once one is configured.
    let embedded = Api::new(&tp, "alice");
    assert_eq!(embedded.get("/user/info").await.0, 401);
    // A token of the provider for another client is refused.
    let minio = crate::support::password_grant(&keycloak, "onyxia-minio", "alice", "alice").await;
    let r = reqwest::Client::new()
        .get(format!("{}/api/user/info", tp.base))
        .bearer_auth(minio["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    tp.stop().await;

    // A region onyxia-api would refuse stops the start, naming the file and the key.
    std::fs::write(
        &regions,
        json!([{"id": "x", "services": {"expose": {"domain": "d"}, "defaultConfiguration": {}}}])
            .to_string(),
    )
    .unwrap();
    let listeners = onyxia_lite::Listeners::bind(&config).await.unwrap();
    let err = onyxia_lite::Platform::start(config, listeners, std::future::pending())
        .await
        .err()
        .expect("refused");
    assert!(err.to_string().contains("defaultConfiguration"), "{err}");
    keycloak.stop().await;
}

#[tokio::test]
async fn shutdown_ends_open_event_streams_at_once() {
    let tp = TestPlatform::start_with(config_without_engine()).await;
    let api = Api::new(&tp, "alice");
    let mut stream = api
        .request(Method::GET, "/my-lab/events")
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), 200);
    let started = std::time::Instant::now();
    let reader = tokio::spawn(async move {
        // The stream ends (None), or the connection closes (an error): either way it is over.
        while let Ok(Some(_)) = stream.chunk().await {}
    });
    tp.stop().await;
    // Well under the 10 s an open connection would otherwise be given to finish.
    assert!(
        started.elapsed() < std::time::Duration::from_secs(5),
        "shutdown took {:?} with an event stream open",
        started.elapsed()
    );
    tokio::time::timeout(std::time::Duration::from_secs(5), reader)
        .await
        .expect("the stream ended")
        .unwrap();
}
