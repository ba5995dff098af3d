//! Password hashing with argon2id, over a bounded pool of argon2 working memory.
//!
//! Each check needs `m_cost` KiB (19 MiB by default). Allocating it per check lets glibc keep
//! the freed blocks in every thread's arena, so a burst of logins grew the process by hundreds
//! of MiB for good. Here at most [`PasswordHasher::max_parallel`] buffers exist; checks reuse
//! them, and [`PasswordHasher::release_idle`] frees them once logins stop.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use argon2::password_hash::{Output, ParamsString, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use subtle::ConstantTimeEq;

use crate::config::PasswordConfig;

pub struct PasswordHasher {
    params: Params,
    pool: MemoryPool,
}

/// argon2's working memory, kept for reuse: at most `keep` buffers, freed when idle.
struct MemoryPool {
    keep: usize,
    state: Mutex<PoolState>,
}

struct PoolState {
    free: Vec<Vec<Block>>,
    last_used: Instant,
}

impl MemoryPool {
    /// Runs `f` over `blocks` blocks of pooled memory.
    fn with_blocks<R>(&self, blocks: usize, f: impl FnOnce(&mut [Block]) -> R) -> R {
        let reused = {
            let mut state = crate::sync::lock(&self.state);
            state.last_used = Instant::now();
            let fits = state.free.iter().position(|b| b.len() >= blocks);
            fits.map(|i| state.free.swap_remove(i))
        };
        let mut buffer = reused.unwrap_or_else(|| vec![Block::default(); blocks]);
        let out = f(&mut buffer[..blocks]);
        let mut state = crate::sync::lock(&self.state);
        if state.free.len() < self.keep {
            state.free.push(buffer);
        }
        out
    }

    /// Frees the pooled buffers when no check ran for `idle`; returns how many were freed.
    fn release_idle(&self, idle: Duration) -> usize {
        let mut state = crate::sync::lock(&self.state);
        if state.last_used.elapsed() < idle {
            return 0;
        }
        std::mem::take(&mut state.free).len()
    }
}

/// The configured argon2 parameters are out of argon2's range.
#[derive(Debug, thiserror::Error)]
#[error("argon2 parameters: {0}")]
pub struct ParamsError(#[source] argon2::Error);

impl PasswordHasher {
    pub fn new(config: &PasswordConfig) -> Result<Self, ParamsError> {
        let params = Params::new(
            config.argon2_memory_kib,
            config.argon2_iterations,
            config.argon2_parallelism,
            None,
        )
        .map_err(ParamsError)?;
        Ok(Self {
            params,
            pool: MemoryPool {
                keep: Self::max_parallel(),
                state: Mutex::new(PoolState {
                    free: Vec::new(),
                    last_used: Instant::now(),
                }),
            },
        })
    }

    /// How many checks may usefully run at once: one per core (argon2 is CPU-bound, and each
    /// running check holds its memory). Callers bound their concurrency by it.
    pub fn max_parallel() -> usize {
        std::thread::available_parallelism().map_or(2, |n| n.get())
    }

    /// A PHC string (`$argon2id$v=19$m=…`).
    pub fn hash(&self, password: &str) -> String {
        let salt = SaltString::generate(&mut argon2::password_hash::rand_core::OsRng);
        let mut salt_bytes = [0u8; 64];
        let raw_salt = salt
            .decode_b64(&mut salt_bytes)
            .expect("a generated salt decodes");
        let mut out = [0u8; 32];
        let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, self.params.clone());
        self.pool
            .with_blocks(self.params.block_count(), |blocks| {
                argon2.hash_password_into_with_memory(
                    password.as_bytes(),
                    raw_salt,
                    &mut out,
                    blocks,
                )
            })
            .expect("argon2 with validated parameters");
        PasswordHash {
            algorithm: Algorithm::Argon2id.ident(),
            version: Some(Version::V0x13.into()),
            params: ParamsString::try_from(&self.params).expect("validated parameters"),
            salt: Some(salt.as_salt()),
            hash: Some(Output::new(&out).expect("a 32-byte output")),
        }
        .to_string()
    }

    /// Checks `password` against a PHC string; the parameters come from the string.
    pub fn verify(&self, password: &str, phc: &str) -> bool {
        self.try_verify(password, phc).unwrap_or(false)
    }

    fn try_verify(&self, password: &str, phc: &str) -> Option<bool> {
        let parsed = PasswordHash::new(phc).ok()?;
        let algorithm = Algorithm::try_from(parsed.algorithm).ok()?;
        let version = parsed
            .version
            .map_or(Ok(Version::default()), Version::try_from)
            .ok()?;
        let params = Params::try_from(&parsed).ok()?;
        let expected = parsed.hash?;
        let mut salt_bytes = [0u8; 64];
        let salt = parsed.salt?.decode_b64(&mut salt_bytes).ok()?;
        let mut out = vec![0u8; expected.len()];
        let argon2 = Argon2::new(algorithm, version, params.clone());
        self.pool
            .with_blocks(params.block_count(), |blocks| {
                argon2.hash_password_into_with_memory(password.as_bytes(), salt, &mut out, blocks)
            })
            .ok()?;
        Some(out.ct_eq(expected.as_bytes()).into())
    }

    /// Frees argon2's pooled memory once no check ran for `idle`.
    pub fn release_idle(&self, idle: Duration) -> usize {
        self.pool.release_idle(idle)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use argon2::PasswordVerifier;

    fn hasher() -> PasswordHasher {
        PasswordHasher::new(&PasswordConfig {
            argon2_memory_kib: 64,
            argon2_iterations: 1,
            argon2_parallelism: 1,
        })
        .unwrap()
    }

    #[test]
    fn hash_then_verify() {
        let hasher = hasher();
        let phc = hasher.hash("s3cret");
        assert!(phc.starts_with("$argon2id$v=19$m=64,t=1,p=1$"));
        assert!(hasher.verify("s3cret", &phc));
        assert!(!hasher.verify("wrong", &phc));
        assert!(!hasher.verify("s3cret", "not a hash"));
    }

    #[test]
    fn hashes_are_standard_phc_strings_both_ways() {
        let hasher = hasher();
        // Ours verifies with the reference verifier…
        let phc = hasher.hash("pa55");
        let parsed = PasswordHash::new(&phc).unwrap();
        assert!(Argon2::default().verify_password(b"pa55", &parsed).is_ok());
        // …and a hash made by the reference hasher (other parameters) verifies here.
        let salt = SaltString::generate(&mut argon2::password_hash::rand_core::OsRng);
        let params = Params::new(128, 2, 1, None).unwrap();
        let theirs = argon2::PasswordHasher::hash_password(
            &Argon2::new(Algorithm::Argon2id, Version::V0x13, params),
            b"pa55",
            &salt,
        )
        .unwrap()
        .to_string();
        assert!(hasher.verify("pa55", &theirs));
        assert!(!hasher.verify("pa56", &theirs));
    }

    #[test]
    fn the_pool_keeps_a_bounded_number_of_buffers_and_frees_them_when_idle() {
        let hasher = hasher();
        let phc = hasher.hash("x");
        std::thread::scope(|s| {
            for _ in 0..8 {
                s.spawn(|| assert!(hasher.verify("x", &phc)));
            }
        });
        let kept = hasher.pool.state.lock().unwrap().free.len();
        assert!(
            kept >= 1 && kept <= PasswordHasher::max_parallel(),
            "{kept}"
        );
        assert_eq!(
            hasher.release_idle(Duration::from_secs(3600)),
            0,
            "recently used"
        );
        assert_eq!(hasher.release_idle(Duration::ZERO), kept);
        assert!(hasher.pool.state.lock().unwrap().free.is_empty());
    }
}
