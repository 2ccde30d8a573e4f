//! argon2id hashing off the async executor.
//!
//! OWASP parameters (m = 19456 KiB, t = 2, p = 1). Hashes run on a fixed set
//! of long-lived worker threads (one per permitted concurrent hash) behind a
//! semaphore, so a burst of logins queues instead of starving the request
//! executor. Allocating the 19 MiB of working memory per hash (the argon2
//! crate's default) left hundreds of MiB resident after a burst of logins,
//! through allocator fragmentation.
//! Each worker therefore keeps one argon2 working buffer and reuses it, so
//! the hasher's memory is bounded at 19 MiB per worker.
//! A login for an unknown user verifies against a dummy hash made with the
//! same parameters, so both cost the same time.

use std::sync::mpsc::{Receiver, Sender};
use std::sync::{Arc, Mutex};

use std::cell::RefCell;

use argon2::password_hash::{Output, ParamsString, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use rampart_core::{Password, Random};
use tokio::sync::{Semaphore, oneshot};

use super::AuthError;

/// Longest presented password that is worth hashing; longer ones cannot be
/// valid (the policy caps new passwords at 128 characters).
const MAX_PRESENTED_BYTES: usize = 1024;

const OUTPUT_LEN: usize = 32;

type Job = Box<dyn FnOnce() + Send>;

#[derive(Clone)]
pub struct PasswordHasher {
    permits: Arc<Semaphore>,
    jobs: Sender<Job>,
    dummy_hash: Arc<str>,
}

impl std::fmt::Debug for PasswordHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasswordHasher")
            .field("available_permits", &self.permits.available_permits())
            .finish()
    }
}

fn hash_error(e: impl std::fmt::Display) -> AuthError {
    AuthError::Hash(e.to_string())
}

fn owasp_params() -> Result<Params, AuthError> {
    Params::new(19_456, 2, 1, Some(OUTPUT_LEN)).map_err(hash_error)
}

thread_local! {
    /// The argon2 working memory of a hashing thread, allocated on its first
    /// job and reused for every later one.
    static BLOCKS: RefCell<Vec<Block>> = const { RefCell::new(Vec::new()) };
}

/// Where a hash computation gets its working memory.
#[derive(Clone, Copy)]
enum Memory {
    /// This thread's reusable buffer (hashing worker threads).
    ThreadBuffer,
    /// A buffer allocated for this call and freed after it.
    Temporary,
}

/// Computes the raw argon2 output into `out`.
fn compute(
    argon2: &Argon2<'_>,
    blocks_needed: usize,
    password: &[u8],
    salt: &[u8],
    out: &mut [u8],
    memory: Memory,
) -> Result<(), AuthError> {
    match memory {
        Memory::ThreadBuffer => BLOCKS.with(|cell| {
            let mut blocks = cell.borrow_mut();
            if blocks.len() < blocks_needed {
                blocks.resize(blocks_needed, Block::default());
            }
            argon2
                .hash_password_into_with_memory(password, salt, out, &mut blocks[..blocks_needed])
                .map_err(hash_error)
        }),
        Memory::Temporary => {
            let mut blocks = vec![Block::default(); blocks_needed];
            argon2
                .hash_password_into_with_memory(password, salt, out, &mut blocks[..])
                .map_err(hash_error)
        }
    }
}

/// A PHC string (`$argon2id$v=19$m=19456,t=2,p=1$salt$hash`) for `password`.
fn hash_blocking(password: &[u8], salt: [u8; 16], memory: Memory) -> Result<String, AuthError> {
    let params = owasp_params()?;
    let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
    let mut out = [0u8; OUTPUT_LEN];
    compute(
        &argon2,
        params.block_count(),
        password,
        &salt,
        &mut out,
        memory,
    )?;
    let salt = SaltString::encode_b64(&salt).map_err(hash_error)?;
    let phc = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(&params).map_err(hash_error)?,
        salt: Some(salt.as_salt()),
        hash: Some(Output::new(&out).map_err(hash_error)?),
    };
    Ok(phc.to_string())
}

/// Whether `presented` hashes to the stored PHC string (constant-time compare).
fn verify_blocking(stored: &str, presented: &[u8]) -> Result<bool, AuthError> {
    let parsed = PasswordHash::new(stored).map_err(hash_error)?;
    let algorithm = Algorithm::try_from(parsed.algorithm).map_err(hash_error)?;
    let version = parsed
        .version
        .map(Version::try_from)
        .transpose()
        .map_err(hash_error)?
        .unwrap_or_default();
    let params = Params::try_from(&parsed).map_err(hash_error)?;
    let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
        return Err(AuthError::Hash("stored hash lacks salt or output".into()));
    };
    let mut salt_buf = [0u8; 64];
    let salt = salt.decode_b64(&mut salt_buf).map_err(hash_error)?;
    let mut out = vec![0u8; expected.len()];
    let argon2 = Argon2::new(algorithm, version, params.clone());
    compute(
        &argon2,
        params.block_count(),
        presented,
        salt,
        &mut out,
        Memory::ThreadBuffer,
    )?;
    // `Output`'s equality is constant-time.
    Ok(Output::new(&out).map_err(hash_error)? == expected)
}

/// Starts `n` worker threads that run jobs until every sender is gone.
fn start_workers(n: usize) -> Result<Sender<Job>, AuthError> {
    let (tx, rx) = std::sync::mpsc::channel::<Job>();
    let rx: Arc<Mutex<Receiver<Job>>> = Arc::new(Mutex::new(rx));
    for i in 0..n {
        let rx = rx.clone();
        std::thread::Builder::new()
            .name(format!("rampart-argon2-{i}"))
            .spawn(move || {
                loop {
                    let job = {
                        let guard = match rx.lock() {
                            Ok(g) => g,
                            Err(poisoned) => poisoned.into_inner(),
                        };
                        guard.recv()
                    };
                    match job {
                        Ok(job) => job(),
                        Err(_) => return,
                    }
                }
            })
            .map_err(|e| AuthError::Hash(format!("cannot start hashing thread: {e}")))?;
    }
    Ok(tx)
}

impl PasswordHasher {
    /// `concurrency` bounds how many hashes run at once (at least 1).
    pub fn new(concurrency: usize, rng: &dyn Random) -> Result<PasswordHasher, AuthError> {
        let mut salt = [0u8; 16];
        rng.fill(&mut salt);
        let mut filler = [0u8; 24];
        rng.fill(&mut filler);
        // Made once with a temporary buffer, so the caller's thread keeps no
        // 19 MiB of working memory.
        let dummy_hash = hash_blocking(&filler, salt, Memory::Temporary)?;
        let n = concurrency.max(1);
        Ok(PasswordHasher {
            permits: Arc::new(Semaphore::new(n)),
            jobs: start_workers(n)?,
            dummy_hash: dummy_hash.into(),
        })
    }

    /// Runs `work` on a hashing thread once a permit is free.
    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, AuthError> {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| AuthError::HashPoolClosed)?;
        let (tx, rx) = oneshot::channel();
        self.jobs
            .send(Box::new(move || {
                let _ = tx.send(work());
            }))
            .map_err(|_| AuthError::HashPoolClosed)?;
        rx.await.map_err(|_| AuthError::HashPoolClosed)
    }

    /// Hashes a new password with a fresh salt.
    pub async fn hash(&self, password: &Password, rng: &dyn Random) -> Result<String, AuthError> {
        let mut salt = [0u8; 16];
        rng.fill(&mut salt);
        let bytes = password.expose().as_bytes().to_vec();
        self.run(move || hash_blocking(&bytes, salt, Memory::ThreadBuffer))
            .await?
    }

    /// Checks `presented` against `stored`; with `None` (no such user) it
    /// does the same work against the dummy hash and answers false.
    pub async fn verify(&self, stored: Option<&str>, presented: &str) -> Result<bool, AuthError> {
        let known = stored.is_some();
        let target: Arc<str> = match stored {
            Some(s) => s.into(),
            None => self.dummy_hash.clone(),
        };
        let too_long = presented.len() > MAX_PRESENTED_BYTES;
        let bytes = if too_long {
            Vec::new()
        } else {
            presented.as_bytes().to_vec()
        };
        let matched = self.run(move || verify_blocking(&target, &bytes)).await??;
        Ok(matched && known && !too_long)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_phc_argon2id_with_owasp_parameters_and_verify() {
        let phc =
            hash_blocking(b"correct horse battery staple", [7; 16], Memory::Temporary).unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        assert!(verify_blocking(&phc, b"correct horse battery staple").unwrap());
        assert!(!verify_blocking(&phc, b"correct horse battery stapler").unwrap());
        // Same result with the reused buffer, twice (no state leaks between runs).
        assert_eq!(
            phc,
            hash_blocking(
                b"correct horse battery staple",
                [7; 16],
                Memory::ThreadBuffer
            )
            .unwrap()
        );
        assert_eq!(
            phc,
            hash_blocking(
                b"correct horse battery staple",
                [7; 16],
                Memory::ThreadBuffer
            )
            .unwrap()
        );
    }

    #[test]
    fn verifies_hashes_made_by_the_argon2_crates_own_api() {
        use argon2::password_hash::PasswordHasher as _;
        let salt = SaltString::encode_b64(&[9; 16]).unwrap();
        let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, owasp_params().unwrap());
        let reference = argon2
            .hash_password(b"pw-of-reference", &salt)
            .unwrap()
            .to_string();
        assert_eq!(
            reference,
            hash_blocking(b"pw-of-reference", [9; 16], Memory::ThreadBuffer).unwrap()
        );
        assert!(verify_blocking(&reference, b"pw-of-reference").unwrap());
        // Other parameters in the stored string are honoured.
        let light = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(1024, 1, 1, None).unwrap(),
        )
        .hash_password(b"pw", &salt)
        .unwrap()
        .to_string();
        assert!(verify_blocking(&light, b"pw").unwrap());
        assert!(!verify_blocking(&light, b"pw2").unwrap());
    }

    #[test]
    fn malformed_stored_hash_is_an_error_not_a_match() {
        assert!(verify_blocking("not a hash", b"x").is_err());
        assert!(verify_blocking("$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ", b"x").is_err());
    }
}
