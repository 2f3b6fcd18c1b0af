// SPDX-License-Identifier: Apache-2.0
// The store's SQL: one named statement per operation, prepared once per connection.
#include "store_impl.hpp"

namespace kyc_bridge::store {

WriteStatements::WriteStatements(SQLite::Database& db)
    : insert_inbox(db,
                   "INSERT OR IGNORE INTO inbox (event_id, customer_id, topic, partition, offset, "
                   "payload, received_at_ms, payload_sha256) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"),
      inbox_hash(db, "SELECT payload_sha256, payload FROM inbox WHERE event_id = ?"),
      insert_job(db,
                 "INSERT INTO jobs (event_id, customer_id, state, next_attempt_at_ms, "
                 "created_at_ms, updated_at_ms, is_head) VALUES (?1, ?2, 'pending', ?3, ?3, ?3, "
                 "NOT EXISTS (SELECT 1 FROM jobs WHERE state = 'pending' AND customer_id = ?2))"),
      insert_rejected(db,
                      "INSERT OR IGNORE INTO rejected (topic, partition, offset, event_id, reason, "
                      "payload, rejected_at_ms) VALUES (?, ?, ?, ?, ?, ?, ?)"),
      insert_outbox(db,
                    "INSERT OR IGNORE INTO outbox (event_id, topic, key, payload, headers, "
                    "created_at_ms, source_event_id, erase_when_sent) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?)"),
      clear_head(db,
                 "UPDATE jobs SET is_head = 0 "
                 "WHERE state = 'pending' AND customer_id = ? AND is_head = 1"),
      promote_head(db,
                   "UPDATE jobs SET is_head = 1 WHERE job_id = (SELECT min(job_id) "
                   "FROM jobs WHERE state = 'pending' AND customer_id = ?)"),
      customer_of(db, "SELECT customer_id FROM jobs WHERE job_id = ?"),
      event_of(db, "SELECT event_id FROM jobs WHERE job_id = ?"),
      fail_unparseable(db,
                       "UPDATE jobs SET state = 'failed', is_head = 0, last_error_kind = ?, "
                       "last_error = ?, updated_at_ms = ? "
                       "WHERE job_id = ? AND state = 'pending'"),
      update_pending(db,
                     "UPDATE jobs SET state = ?1, is_head = (?1 = 'pending'), "
                     "attempts = ?, next_attempt_at_ms = ?, "
                     "last_error_kind = ?, last_error = ?, updated_at_ms = ?, "
                     "conflict_attempts = conflict_attempts + ? "
                     "WHERE job_id = ?8 AND state = 'pending'"),
      complete_job(db,
                   "UPDATE jobs SET state = 'done', is_head = 0, updated_at_ms = ? "
                   "WHERE job_id = ? AND state IN ('pending', 'done')"),
      // ?1 due, ?2 job, ?3 now.
      // A purged job (its payload erased) cannot run again: it is not replayed.
      replay_job(db,
                 "UPDATE jobs SET state = 'pending', attempts = 0, conflict_attempts = 0, "
                 "next_attempt_at_ms = ?1, updated_at_ms = ?3 "
                 "WHERE job_id = ?2 AND state = 'failed' AND NOT EXISTS (SELECT 1 FROM inbox "
                 "WHERE inbox.event_id = jobs.event_id AND inbox.erased_at_ms IS NOT NULL)"),
      profile_applied(db,
                      "UPDATE jobs SET profile_applied = 1, updated_at_ms = ? WHERE job_id = ?"),
      // Account upserts: ?1 customer_id, ?2 now; each sets its own step's columns only.
      upsert_user(db,
                  "INSERT INTO accounts (customer_id, updated_at_ms, auth0_user_id, outcome) "
                  "VALUES (?1, ?2, ?3, ?4) ON CONFLICT (customer_id) DO UPDATE SET "
                  "updated_at_ms = ?2, auth0_user_id = ?3, outcome = ?4"),
      upsert_roles(db,
                   "INSERT INTO accounts (customer_id, updated_at_ms, roles_assigned) "
                   "VALUES (?1, ?2, 1) ON CONFLICT (customer_id) DO UPDATE SET "
                   "updated_at_ms = ?2, roles_assigned = 1"),
      upsert_email_sending(db,
                           "INSERT INTO accounts (customer_id, updated_at_ms, "
                           "password_email_sending) VALUES (?1, ?2, 1) "
                           "ON CONFLICT (customer_id) DO UPDATE SET "
                           "updated_at_ms = ?2, password_email_sending = 1"),
      // Sent implies sending: the flag stays set, so "sending and not sent" means uncertain.
      upsert_email_sent(db,
                        "INSERT INTO accounts (customer_id, updated_at_ms, "
                        "password_email_sending, password_setup_sent) VALUES (?1, ?2, 1, 1) "
                        "ON CONFLICT (customer_id) DO UPDATE SET updated_at_ms = ?2, "
                        "password_email_sending = 1, password_setup_sent = 1"),
      // ?1 customer, ?2 now, ?3 blocked, ?4 auth0 user id (kept if one is known).
      upsert_blocked(db,
                     "INSERT INTO accounts (customer_id, updated_at_ms, blocked, auth0_user_id) "
                     "VALUES (?1, ?2, ?3, ?4) ON CONFLICT (customer_id) DO UPDATE SET "
                     "updated_at_ms = ?2, blocked = ?3, auth0_user_id = "
                     "CASE WHEN auth0_user_id = '' THEN ?4 ELSE auth0_user_id END"),
      upsert_roles_removed(db,
                           "INSERT INTO accounts (customer_id, updated_at_ms, roles_assigned) "
                           "VALUES (?1, ?2, 0) ON CONFLICT (customer_id) DO UPDATE SET "
                           "updated_at_ms = ?2, roles_assigned = 0"),
      // ?1 customer, ?2 now, ?3 applied occurred_at (0: not applied).
      upsert_applied(db,
                     "INSERT INTO accounts (customer_id, updated_at_ms, last_applied_ms) "
                     "VALUES (?1, ?2, ?3) ON CONFLICT (customer_id) DO UPDATE SET "
                     "updated_at_ms = ?2, last_applied_ms = max(last_applied_ms, ?3)"),
      job_outcome(db, "UPDATE jobs SET outcome = ?1 WHERE job_id = ?2"),
      job_kind(db, "UPDATE jobs SET kind = ?1 WHERE job_id = ?2"),
      upsert_published(db,
                       "INSERT INTO accounts (customer_id, updated_at_ms, published) "
                       "VALUES (?1, ?2, 1) ON CONFLICT (customer_id) DO UPDATE SET "
                       "updated_at_ms = ?2, published = 1"),
      // A dead letter's copy of the poison event is not kept once the broker has it.
      mark_sent(db,
                "UPDATE outbox SET sent_at_ms = ?1, "
                "payload = CASE WHEN erase_when_sent THEN '' ELSE payload END, "
                "headers = CASE WHEN erase_when_sent THEN '[]' ELSE headers END "
                "WHERE seq = ?2 AND sent_at_ms IS NULL"),
      // Done jobs finished before ?1 whose events are all sent: their payloads (the personal
      // fields) go; event_id, customer_id and the hash stay. Driven by the partial index of
      // rows not erased, which holds only pending, failed and recently done events.
      erase_done(db, R"sql(
UPDATE inbox SET payload = '', erased_at_ms = ?2
WHERE event_id IN (
    SELECT i.event_id FROM inbox AS i INDEXED BY inbox_not_erased
    JOIN jobs AS j ON j.event_id = i.event_id
    WHERE i.erased_at_ms IS NULL AND j.state = 'done' AND j.updated_at_ms <= ?1
      AND NOT EXISTS (SELECT 1 FROM outbox AS o
                      WHERE o.source_event_id = i.event_id AND o.sent_at_ms IS NULL)
    LIMIT ?3))sql"),
      purge_rejected(db,
                     "UPDATE rejected SET payload = '', erased_at_ms = ?2 "
                     "WHERE rejected_at_ms < ?1 AND erased_at_ms IS NULL"),
      purge_failed(db,
                   "UPDATE inbox SET payload = '', erased_at_ms = ?2 WHERE erased_at_ms IS NULL "
                   "AND event_id IN (SELECT event_id FROM jobs "
                   "WHERE state = 'failed' AND updated_at_ms < ?1)"),
      erase_replayed_rejected(db,
                              "UPDATE rejected SET payload = '', erased_at_ms = ?2 WHERE id = ?1"),
      set_aside(db,
                "UPDATE outbox SET set_aside_reason = ?1, set_aside_at_ms = ?2 "
                "WHERE seq = ?3 AND sent_at_ms IS NULL AND set_aside_at_ms IS NULL"),
      insert_attempt(db,
                     "INSERT INTO job_attempts (job_id, attempt, kind, code, message, at_ms) "
                     "VALUES (?, ?, ?, ?, ?, ?)"),
      insert_audit(db,
                   "INSERT INTO audit (at_ms, action, job_id, event_ref, reason, os_user, host) "
                   "VALUES (?, ?, ?, ?, ?, ?, ?)"),
      set_daemon_state(db,
                       "INSERT INTO daemon_state (key, value, updated_at_ms) VALUES (?1, ?2, ?3) "
                       "ON CONFLICT (key) DO UPDATE SET value = ?2, updated_at_ms = ?3") {}

ReadStatements::ReadStatements(SQLite::Database& db)
    : due_jobs(db, R"sql(
SELECT j.job_id, i.payload, j.attempts, j.created_at_ms, j.next_attempt_at_ms,
       j.profile_applied, j.last_error_kind, j.last_error, j.conflict_attempts
FROM jobs AS j INDEXED BY jobs_heads_by_id JOIN inbox AS i ON i.event_id = j.event_id
WHERE j.state = 'pending' AND j.is_head = 1 AND j.next_attempt_at_ms <= ?1
  AND j.customer_id NOT IN (SELECT value FROM json_each(?2))
ORDER BY j.job_id
LIMIT ?3)sql"),
      // Heads only: a job queued behind its customer's head is not runnable at its own time,
      // and reporting that time would make the scheduler spin.
      next_due(db,
               "SELECT next_attempt_at_ms FROM jobs INDEXED BY jobs_heads_by_due "
               "WHERE state = 'pending' AND is_head = 1 ORDER BY next_attempt_at_ms LIMIT 1"),
      load_account(db,
                   "SELECT auth0_user_id, outcome, roles_assigned, password_email_sending, "
                   "password_setup_sent, published, blocked, last_applied_ms FROM accounts "
                   "WHERE customer_id = ?"),
      // The terms match the partial index outbox_unsent.
      pending_outbox(db,
                     "SELECT seq, event_id, topic, key, payload, headers FROM outbox "
                     "WHERE sent_at_ms IS NULL AND set_aside_at_ms IS NULL AND seq > ? "
                     "ORDER BY seq LIMIT ?"),
      count_unsent(db,
                   "SELECT count(*) FROM outbox "
                   "WHERE sent_at_ms IS NULL AND set_aside_at_ms IS NULL"),
      list_set_aside(db,
                     "SELECT seq, event_id, topic, set_aside_reason, set_aside_at_ms FROM outbox "
                     "WHERE set_aside_at_ms IS NOT NULL ORDER BY seq DESC LIMIT ?"),
      count_set_aside(db, "SELECT count(*) FROM outbox WHERE set_aside_at_ms IS NOT NULL"),
      list_jobs(db,
                "SELECT job_id, event_id, customer_id, state, attempts, "
                "last_error_kind, last_error, created_at_ms, updated_at_ms, kind, outcome "
                "FROM jobs WHERE ?1 = '' OR state = ?1 ORDER BY job_id DESC LIMIT ?2"),
      list_rejected(db,
                    "SELECT topic, partition, offset, event_id, reason, rejected_at_ms, id "
                    "FROM rejected ORDER BY id DESC LIMIT ?"),
      count_by_state(db, "SELECT state, count(*) FROM jobs GROUP BY state"),
      oldest_pending(db, "SELECT min(created_at_ms) FROM jobs WHERE state = 'pending'"),
      oldest_unsent(db,
                    "SELECT min(created_at_ms) FROM outbox "
                    "WHERE sent_at_ms IS NULL AND set_aside_at_ms IS NULL"),
      list_failed(db,
                  "SELECT job_id, event_id, customer_id, state, attempts, "
                  "last_error_kind, last_error, created_at_ms, updated_at_ms, kind, outcome "
                  "FROM jobs WHERE state = 'failed' AND updated_at_ms >= ?1 "
                  "AND (?2 = '' OR last_error_kind = ?2) AND (?3 = '' OR customer_id = ?3) "
                  "ORDER BY job_id DESC LIMIT ?4"),
      job_detail(db,
                 "SELECT job_id, event_id, customer_id, state, attempts, "
                 "last_error_kind, last_error, created_at_ms, updated_at_ms, kind, outcome, "
                 "conflict_attempts, profile_applied, next_attempt_at_ms "
                 "FROM jobs WHERE job_id = ?"),
      job_attempts(db,
                   "SELECT attempt, kind, code, message, at_ms FROM job_attempts "
                   "WHERE job_id = ? ORDER BY at_ms, rowid"),
      load_rejected(db,
                    "SELECT topic, partition, offset, event_id, reason, rejected_at_ms, id, "
                    "payload FROM rejected WHERE id = ?"),
      list_audit(db,
                 "SELECT id, at_ms, action, job_id, event_ref, reason, os_user, host "
                 "FROM audit WHERE at_ms >= ? ORDER BY id LIMIT ?"),
      // SQLite takes the bare columns from the row holding max() (lang_select.html#bareagg).
      last_errors(db,
                  "SELECT last_error_kind, last_error, job_id, max(updated_at_ms) FROM jobs "
                  "WHERE state IN ('pending', 'failed') AND last_error_kind != '' "
                  "GROUP BY last_error_kind ORDER BY last_error_kind"),
      get_daemon_state(db, "SELECT value, updated_at_ms FROM daemon_state WHERE key = ?"),
      count_purgeable_rejected(db,
                               "SELECT count(*) FROM rejected "
                               "WHERE rejected_at_ms < ?1 AND erased_at_ms IS NULL"),
      count_purgeable_failed(db,
                             "SELECT count(*) FROM jobs AS j JOIN inbox AS i "
                             "ON i.event_id = j.event_id WHERE j.state = 'failed' "
                             "AND j.updated_at_ms < ?1 AND i.erased_at_ms IS NULL") {}

}  // namespace kyc_bridge::store
