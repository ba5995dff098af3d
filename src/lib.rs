//! onyxia-lite: one process standing in for a whole Onyxia platform.
//!
//! [`Platform::start`] takes a [`Config`], already-bound [`Listeners`] and a shutdown signal,
//! and returns a [`RunningPlatform`] with the real addresses. Nothing is global: a test
//! process can run many platforms side by side.

pub mod blocking;
pub mod catalog;
pub mod classes;
pub mod clock;
pub mod config;
pub mod durable;
pub mod endpoints;
pub mod identity;
mod lab_setup;
mod markup;
pub mod objects;
pub mod oidc;
pub mod onyxia;
pub mod policy;
pub mod process;
pub mod proxy;
pub mod runtime;
pub mod s3;
pub mod secrets;
mod server;
pub mod services;
mod serving;
pub mod store;
mod sync;
mod tasks;
pub mod vault;
pub mod web;

pub use config::Config;
pub use endpoints::Endpoints;
pub use server::{Listeners, Platform, RunningPlatform, StartError};
