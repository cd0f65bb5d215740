//! Every picture of the corpus behaves as its manifest says through `decode`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use sha2::{Digest, Sha256};
use shm_picture::decode;
use shm_testkit::{Corpus, Expect};

fn check(corpus: &Corpus) {
    for entry in &corpus.entries {
        let bytes = std::fs::read(&entry.path).unwrap();
        let result = decode(&bytes, u32::MAX);
        match (entry.expect, &result) {
            (Expect::Ok | Expect::Any, Ok(picture)) => {
                assert_eq!(
                    (Some(picture.width), Some(picture.height)),
                    (entry.width, entry.height),
                    "{}",
                    entry.relative
                );
                if let Some(expected) = &entry.rgba8_sha256 {
                    let hash: String = Sha256::digest(picture.rgba.as_raw())
                        .iter()
                        .map(|b| format!("{b:02x}"))
                        .collect();
                    assert_eq!(
                        &hash, expected,
                        "{} decodes to other pixels",
                        entry.relative
                    );
                }
            }
            (Expect::Error | Expect::Any, Err(err)) => {
                let message = err.to_string();
                assert!(message.starts_with("the "), "{}: {message}", entry.relative);
            }
            (expect, result) => panic!("{}: expected {expect:?}, got {result:?}", entry.relative),
        }
    }
    println!(
        "{} pictures in {} behave as their manifest says",
        corpus.entries.len(),
        corpus.root.display()
    );
}

#[test]
fn bundled_pictures_behave_as_their_manifest_says() {
    check(&Corpus::bundled());
}

#[test]
#[ignore = "needs the shared image corpus (../shared/testdata/images or $SHM_TESTDATA); scripts/check.sh runs it where it is"]
fn shared_corpus_behaves_as_its_manifest_says() {
    check(&Corpus::shared());
}

#[test]
fn the_png_bomb_is_refused_by_the_limits_with_its_declared_size() {
    let corpus = Corpus::bundled();
    let bomb = std::fs::read(&corpus.find("bomb-100000x100000-rgba8.png").path).unwrap();
    let err = decode(&bomb, 4096).unwrap_err();
    assert_eq!(
        err.to_string(),
        "the PNG picture declares 100000x100000 pixels, more than the 512 MiB decoding limit allows"
    );
}
