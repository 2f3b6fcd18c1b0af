// SPDX-License-Identifier: Apache-2.0
// Migrations of the store schema; append new ones, never edit a released one.
#include "schema.hpp"

#include <SQLiteCpp/Transaction.h>

#include <array>
#include <stdexcept>
#include <string>

namespace kyc_bridge::store {

namespace {

// Migration N (1-based) takes the file from user_version N-1 to N.
constexpr std::array kMigrations = {
    // 1: inbox, jobs, accounts, rejected, outbox.
    R"sql(
CREATE TABLE inbox (
    event_id        TEXT PRIMARY KEY,
    customer_id     TEXT NOT NULL,
    topic           TEXT NOT NULL,
    partition       INTEGER NOT NULL,
    offset          INTEGER NOT NULL,
    payload         TEXT NOT NULL,          -- events::ToJson of the validated event
    received_at_ms  INTEGER NOT NULL
);

CREATE TABLE jobs (
    job_id              INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id            TEXT NOT NULL UNIQUE REFERENCES inbox(event_id),
    customer_id         TEXT NOT NULL,
    state               TEXT NOT NULL CHECK (state IN ('pending', 'done', 'failed')),
    attempts            INTEGER NOT NULL DEFAULT 0,
    next_attempt_at_ms  INTEGER NOT NULL,
    profile_applied     INTEGER NOT NULL DEFAULT 0,
    is_head             INTEGER NOT NULL DEFAULT 0,  -- the oldest pending job of its customer
    last_error          TEXT NOT NULL DEFAULT '',
    last_error_kind     TEXT NOT NULL DEFAULT '',
    created_at_ms       INTEGER NOT NULL,
    updated_at_ms       INTEGER NOT NULL
);
-- Finding a customer's oldest pending job when its head changes; counts by state.
CREATE INDEX jobs_state_customer ON jobs (state, customer_id, job_id);
-- Heads only: DueJobs walks them oldest first and stops at its limit (covering), NextDueTime
-- is one seek. A job queued behind its customer's head costs neither query anything.
CREATE INDEX jobs_heads_by_id ON jobs (job_id, next_attempt_at_ms, customer_id)
    WHERE state = 'pending' AND is_head = 1;
CREATE INDEX jobs_heads_by_due ON jobs (next_attempt_at_ms)
    WHERE state = 'pending' AND is_head = 1;

CREATE TABLE accounts (
    customer_id          TEXT PRIMARY KEY,
    auth0_user_id        TEXT NOT NULL DEFAULT '',
    outcome              TEXT NOT NULL DEFAULT '',
    roles_assigned       INTEGER NOT NULL DEFAULT 0,
    password_setup_sent  INTEGER NOT NULL DEFAULT 0,
    published            INTEGER NOT NULL DEFAULT 0,
    updated_at_ms        INTEGER NOT NULL
);

CREATE TABLE rejected (
    id              INTEGER PRIMARY KEY,
    topic           TEXT NOT NULL,
    partition       INTEGER NOT NULL,
    offset          INTEGER NOT NULL,
    event_id        TEXT NOT NULL DEFAULT '',
    reason          TEXT NOT NULL,
    payload         TEXT NOT NULL,          -- the raw value, truncated to 64 KiB, for ops
    rejected_at_ms  INTEGER NOT NULL,
    UNIQUE (topic, partition, offset)
);

CREATE TABLE outbox (
    seq            INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id       TEXT NOT NULL UNIQUE,
    topic          TEXT NOT NULL,
    key            TEXT NOT NULL,
    payload        TEXT NOT NULL,
    headers        TEXT NOT NULL,           -- JSON array of [name, value]
    created_at_ms  INTEGER NOT NULL,
    sent_at_ms     INTEGER
);
-- The relay's backlog stays small while sent rows pile up.
CREATE INDEX outbox_unsent ON outbox (seq) WHERE sent_at_ms IS NULL;
)sql",
    // 2: conflicts are counted apart from other failures, so that retry.conflict_max_attempts
    // means tries at resolving a 409, whatever failed before.
    R"sql(
ALTER TABLE jobs ADD COLUMN conflict_attempts INTEGER NOT NULL DEFAULT 0;
)sql",
    // 3: the password email's two-phase record (sending before the call, sent after it; sent
    // implies sending, also for emails recorded before this version), and outbox rows the relay
    // set aside for good (a permanent produce error), which leave the relay's backlog.
    R"sql(
ALTER TABLE accounts ADD COLUMN password_email_sending INTEGER NOT NULL DEFAULT 0;
UPDATE accounts SET password_email_sending = 1 WHERE password_setup_sent = 1;
ALTER TABLE outbox ADD COLUMN set_aside_reason TEXT;
ALTER TABLE outbox ADD COLUMN set_aside_at_ms INTEGER;
DROP INDEX outbox_unsent;
CREATE INDEX outbox_unsent ON outbox (seq) WHERE sent_at_ms IS NULL AND set_aside_at_ms IS NULL;
CREATE INDEX outbox_set_aside ON outbox (seq) WHERE set_aside_at_ms IS NOT NULL;
)sql",
    // 4: operations. Every failed attempt of a job (for `failed show`; messages are free of
    // personal data by contract), the audit trail of ops actions, and a small key/value table
    // the daemon writes its state to (quarantine) for `status`.
    R"sql(
CREATE TABLE job_attempts (
    job_id   INTEGER NOT NULL REFERENCES jobs(job_id),
    attempt  INTEGER NOT NULL,
    kind     TEXT NOT NULL,
    code     TEXT NOT NULL,
    message  TEXT NOT NULL,
    at_ms    INTEGER NOT NULL
);
CREATE INDEX job_attempts_by_job ON job_attempts (job_id, at_ms);

CREATE TABLE audit (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    at_ms     INTEGER NOT NULL,
    action    TEXT NOT NULL,
    job_id    INTEGER,
    event_ref TEXT NOT NULL DEFAULT '',
    reason    TEXT NOT NULL,
    os_user   TEXT NOT NULL,
    host      TEXT NOT NULL
);
CREATE INDEX audit_by_time ON audit (at_ms);

CREATE TABLE daemon_state (
    key            TEXT PRIMARY KEY,
    value          TEXT NOT NULL,
    updated_at_ms  INTEGER NOT NULL
);
-- failed list filters by time; status finds the oldest pending job.
CREATE INDEX jobs_state_updated ON jobs (state, updated_at_ms);
CREATE INDEX jobs_state_created ON jobs (state, created_at_ms);
CREATE INDEX outbox_unsent_created ON outbox (created_at_ms)
    WHERE sent_at_ms IS NULL AND set_aside_at_ms IS NULL;
)sql",
    // 5: personal data kept only as long as needed. The inbox keeps a SHA-256 of each event
    // (event_id reuse with another payload is a conflict, also after the payload is erased) and
    // when the payload was erased. Outbox rows know the event they publish for, so a done
    // job's personal fields are erased only once its event is sent; dead letters (the raw
    // poison event) lose payload and headers once sent. Rejected rows note a purge.
    R"sql(
ALTER TABLE inbox ADD COLUMN payload_sha256 TEXT NOT NULL DEFAULT '';
ALTER TABLE inbox ADD COLUMN erased_at_ms INTEGER;
CREATE INDEX inbox_not_erased ON inbox (received_at_ms) WHERE erased_at_ms IS NULL;
ALTER TABLE outbox ADD COLUMN source_event_id TEXT;
ALTER TABLE outbox ADD COLUMN erase_when_sent INTEGER NOT NULL DEFAULT 0;
UPDATE outbox SET erase_when_sent = 1 WHERE headers LIKE '%"kyc_bridge_error"%';
UPDATE outbox SET source_event_id = json_extract(payload, '$.source_event_id')
    WHERE erase_when_sent = 0 AND json_valid(payload);
UPDATE outbox SET payload = '', headers = '[]' WHERE erase_when_sent = 1 AND sent_at_ms IS NOT NULL;
CREATE INDEX outbox_unsent_by_source ON outbox (source_event_id) WHERE sent_at_ms IS NULL;
ALTER TABLE rejected ADD COLUMN erased_at_ms INTEGER;
)sql",
    // 6: the lifecycle's other half. A customer's account knows whether kyc-bridge blocked the
    // user (a revocation) and the occurred_at of the newest event applied (older ones are
    // superseded); a job knows its kind and outcome.
    R"sql(
ALTER TABLE accounts ADD COLUMN blocked INTEGER NOT NULL DEFAULT 0;
ALTER TABLE accounts ADD COLUMN last_applied_ms INTEGER NOT NULL DEFAULT 0;
ALTER TABLE jobs ADD COLUMN kind TEXT NOT NULL DEFAULT 'verify';
ALTER TABLE jobs ADD COLUMN outcome TEXT NOT NULL DEFAULT '';
)sql",
};

int UserVersion(SQLite::Database& db) { return db.execAndGet("PRAGMA user_version").getInt(); }

}  // namespace

int LatestSchemaVersion() { return static_cast<int>(kMigrations.size()); }

void Migrate(SQLite::Database& db) { MigrateTo(db, LatestSchemaVersion()); }

void MigrateTo(SQLite::Database& db, int target) {
    while (true) {
        SQLite::Transaction tx(db, SQLite::TransactionBehavior::IMMEDIATE);
        int version = UserVersion(db);
        if (version > LatestSchemaVersion()) {
            throw std::runtime_error(
                "schema version " + std::to_string(version) + " is newer than this build knows (" +
                std::to_string(LatestSchemaVersion()) + "); run a newer kyc-bridge");
        }
        if (version >= target) return;  // tx rolls back: nothing was written
        db.exec(kMigrations[static_cast<std::size_t>(version)]);
        db.exec("PRAGMA user_version = " + std::to_string(version + 1));
        tx.commit();
    }
}

}  // namespace kyc_bridge::store
