//! The vault over a real key table, on SQLite and on Postgres: sealing leaves no plaintext,
//! one data key per reporter, opening needs that key, erasure removes it for good, and a
//! rotated master key re-wraps every data key while blind indexes stay valid; retention erases a
//! reporter's key once their last case ended longer ago than the period.

use gridloop_domain::personal::Contact;
use gridloop_eventstore::testing::postgres_url;
use gridloop_eventstore::{EventStore, StoreOptions};
use gridloop_intake::open_vault;
use gridloop_intake::personal::keys;
use gridloop_intake::personal::master::{MasterKey, MasterKeys};

fn contact() -> Contact {
    Contact { id: "resident-7".into(), name: "李小龙".into(), phone: "13800138000".into() }
}

async fn sqlite(dir: &tempfile::TempDir) -> EventStore {
    let url = format!("sqlite://{}", dir.path().join("intake.db").display());
    EventStore::connect(&url, StoreOptions { schema: None, max_connections: 4, ..StoreOptions::default() })
        .await
        .unwrap()
}

async fn postgres() -> Option<EventStore> {
    let url = postgres_url()?;
    let schema = format!("vault_{}", uuid::Uuid::now_v7().simple());
    Some(
        EventStore::connect(&url, StoreOptions { schema: Some(schema), max_connections: 4, ..StoreOptions::default() })
            .await
            .unwrap(),
    )
}

fn master(byte: u8) -> MasterKey {
    MasterKey::from_bytes([byte; 32])
}

/// The files under `dir` whose bytes contain `needle`.
fn files_containing(dir: &std::path::Path, needle: &[u8]) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let bytes = std::fs::read(&path).unwrap_or_default();
        if bytes.windows(needle.len()).any(|window| window == needle) {
            found.push(path);
        }
    }
    found
}

/// `files`: the directory of a SQLite store, checked to hold no erased data key in any file
/// (database, write-ahead log) once it is erased.
async fn seals_opens_and_erases(store: EventStore, files: Option<&std::path::Path>) {
    let vault = open_vault(store.clone(), MasterKeys::new(master(1))).await.unwrap();
    let sealed = vault.seal(&contact()).await.unwrap().expect("a contact is sealed");
    // Reporters before and after it in the key table's pages, and the key as a long-lived one
    // is: in the database file itself, not only in the log.
    for n in 0..40 {
        vault.seal(&Contact { id: format!("neighbour-{n}"), ..contact() }).await.unwrap();
    }
    store.truncate_log().await.unwrap();
    let bytes = [&sealed.id, &sealed.name, &sealed.phone].map(|field| String::from_utf8_lossy(field).into_owned());
    assert!(!bytes.concat().contains("13800138000") && !bytes.concat().contains("李小龙"));
    assert_eq!(sealed.blind_index, vault.blind_index("resident-7"));
    assert_eq!(vault.open_contact(&sealed).await.unwrap(), Some(contact()));

    // A second report of the same reporter uses the same key; another reporter gets their own.
    let again = vault.seal(&contact()).await.unwrap().unwrap();
    assert_eq!(again.key_ref, sealed.key_ref);
    assert_ne!(again.phone, sealed.phone, "a fresh nonce per seal");
    let other = Contact { id: "resident-8".into(), ..contact() };
    let other_sealed = vault.seal(&other).await.unwrap().unwrap();
    assert_ne!(other_sealed.key_ref, sealed.key_ref);
    assert_eq!(vault.seal(&Contact::default()).await.unwrap(), None, "anonymous: nothing to seal");

    // A forged field does not open.
    let mut forged = sealed.clone();
    forged.phone = other_sealed.phone.clone();
    assert!(vault.open_contact(&forged).await.is_err());

    // Erasure deletes the key: the contact is gone, the other reporter's is not.
    let wrapped = keys::by_ref(&store, &sealed.key_ref).await.unwrap().expect("the data key").wrapped;
    assert_eq!(vault.erase("resident-7").await.unwrap().0, 1);
    assert_eq!(vault.open_contact(&sealed).await.unwrap(), None);
    assert_eq!(vault.erase("resident-7").await.unwrap().0, 0);
    assert_eq!(vault.open_contact(&other_sealed).await.unwrap(), Some(other.clone()));
    if let Some(dir) = files {
        assert_eq!(files_containing(dir, wrapped.as_bytes()), Vec::<std::path::PathBuf>::new(), "erased: {wrapped}");
    }

    // Rotation: the new master key alone cannot unwrap the old keys; with the old one as a
    // previous key they are re-wrapped, after which the new key alone suffices.
    assert!(open_vault(store.clone(), MasterKeys::new(master(2))).await.is_err());
    let rotated = MasterKeys { current: master(2), previous: vec![master(1)] };
    open_vault(store.clone(), rotated).await.unwrap();
    let after = open_vault(store.clone(), MasterKeys::new(master(2))).await.unwrap();
    assert_eq!(after.open_contact(&other_sealed).await.unwrap(), Some(other));
    assert_eq!(after.blind_index("resident-8"), other_sealed.blind_index, "blind indexes survive rotation");
}

async fn run(store: &EventStore, queue: impl FnOnce(&mut gridloop_eventstore::Batch<'_>)) {
    let tx = store.begin().await.unwrap();
    let mut batch = tx.batch();
    queue(&mut batch);
    tx.commit_with(batch).await.unwrap();
}

/// Retention: a reporter's key goes once their last case has ended longer ago than the period,
/// never while one of their cases is open.
async fn expires_after_the_last_case_ends(store: EventStore) {
    let vault = open_vault(store.clone(), MasterKeys::new(master(1))).await.unwrap();
    let sealed = vault.seal(&contact()).await.unwrap().unwrap();
    let other = vault.seal(&Contact { id: "resident-9".into(), ..contact() }).await.unwrap().unwrap();
    run(&store, |b| {
        keys::queue_case_key(b, "case-a", &sealed.key_ref);
        keys::queue_case_key(b, "case-b", &sealed.key_ref);
        keys::queue_case_key(b, "case-c", &other.key_ref);
    })
    .await;
    let t0 = chrono::Utc::now();
    let days = chrono::Duration::days;
    run(&store, |b| keys::queue_case_ended(b, "case-a", t0.timestamp_micros())).await;
    assert_eq!(vault.erase_expired(t0 + days(365)).await.unwrap(), 0, "case-b is still open");
    let closed = t0 + days(10);
    run(&store, |b| keys::queue_case_ended(b, "case-b", closed.timestamp_micros())).await;
    assert_eq!(vault.erase_expired(closed - chrono::Duration::seconds(1)).await.unwrap(), 0, "not yet");
    assert!(vault.open_contact(&sealed).await.unwrap().is_some());
    assert_eq!(vault.erase_expired(closed).await.unwrap(), 1);
    assert_eq!(vault.open_contact(&sealed).await.unwrap(), None, "erased by retention");
    assert!(vault.open_contact(&other).await.unwrap().is_some(), "a reporter with an open case keeps their key");
}

#[tokio::test]
async fn the_vault_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    seals_opens_and_erases(sqlite(&dir).await, Some(dir.path())).await;
    let dir = tempfile::tempdir().unwrap();
    expires_after_the_last_case_ends(sqlite(&dir).await).await;
}

#[tokio::test]
async fn the_vault_on_postgres() {
    if let Some(store) = postgres().await {
        seals_opens_and_erases(store, None).await;
    }
    if let Some(store) = postgres().await {
        expires_after_the_last_case_ends(store).await;
    }
}
