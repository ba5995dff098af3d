//! The one integration-test binary: every test starts its own platform on port 0.

mod config_and_store;
mod connections;
mod lab_docker;
mod lab_shutdown;
mod lab_support;
mod official_web;
mod oidc_account;
mod oidc_errors;
mod oidc_flow;
mod oidc_hardening;
mod onyxia_api;
mod onyxia_hardening;
mod process;
mod process_hardening;
mod python_clients;
mod s3_durability;
mod s3_objects;
mod s3_payloads;
mod s3_policy_bounds;
mod s3_sts;
mod s3_support;
mod support;
mod token_validity;
mod vault_api;
mod vault_vaultrs;
mod web_ui;
