// SPDX-License-Identifier: Apache-2.0
// Opening the store, ingesting consumer batches, the outbox and the ops queries.
#include "kyc_bridge/store/store.hpp"

#include <filesystem>
#include <system_error>

#include <nlohmann/json.hpp>
#include <sqlite3.h>

#include "kyc_bridge/events/kyc_verified.hpp"
#include "schema.hpp"
#include "store_impl.hpp"

namespace kyc_bridge::store {

namespace {

// Rejected payloads are kept for ops, not replayed: a bounded copy is enough.
constexpr std::size_t kMaxRejectedPayload = 64 * 1024;

std::string SqliteSlug(int extended_code) {
    switch (extended_code & 0xff) {
        case SQLITE_BUSY: return "sqlite_busy";
        case SQLITE_LOCKED: return "sqlite_locked";
        case SQLITE_IOERR: return "sqlite_ioerr";
        case SQLITE_FULL: return "sqlite_full";
        default: return "sqlite_error";
    }
}

void CreateParentDirectory(const std::string& path) {
    auto parent = std::filesystem::path(path).parent_path();
    if (parent.empty()) return;
    std::error_code ec;
    std::filesystem::create_directories(parent, ec);
    if (ec) {
        throw StoreError("store " + path + ": cannot create directory " + parent.string() + ": " +
                         ec.message());
    }
}

// Throws SQLite::Exception or std::runtime_error (schema from a newer build).
SQLite::Database OpenDatabase(const std::string& path, std::chrono::milliseconds busy_timeout) {
    SQLite::Database db(path, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE,
                        static_cast<int>(busy_timeout.count()));
    // WAL: the CLI reads while the daemon writes, and a writer waits busy_timeout instead of
    // blocking readers (https://www.sqlite.org/wal.html). The mode is persistent in the file.
    auto mode = db.execAndGet("PRAGMA journal_mode = WAL").getString();
    if (mode != "wal") throw std::runtime_error("cannot switch to WAL (journal_mode=" + mode + ")");
    // FULL: in WAL mode NORMAL may lose the last commits on power loss, and Kafka offsets are
    // committed once Ingest returns (https://www.sqlite.org/pragma.html#pragma_synchronous).
    db.exec("PRAGMA synchronous = FULL");
    db.exec("PRAGMA foreign_keys = ON");
    Migrate(db);
    return db;
}

// The event_id of a payload that failed validation, if it is a JSON object that has one.
std::string EventIdOf(const std::string& payload) {
    if (payload.size() > events::kMaxEventBytes) return {};
    auto doc = nlohmann::json::parse(payload, nullptr, /*allow_exceptions=*/false);
    if (!doc.is_object()) return {};
    auto it = doc.find("event_id");
    if (it == doc.end() || !it->is_string()) return {};
    return it->get<std::string>().substr(0, 128);
}

}  // namespace

core::Error ErrorFrom(std::string_view operation, const SQLite::Exception& e) {
    int extended = e.getExtendedErrorCode();
    return core::Error::Transient("store: " + std::string(operation) + ": " + e.what() +
                                      " (extended code " + std::to_string(extended) + ")",
                                  extended < 0 ? "store_error" : SqliteSlug(extended));
}

Store::Impl::Impl(const std::string& path, std::chrono::milliseconds busy_timeout,
                  const core::Clock& clock)
    : clock(clock),
      db(OpenDatabase(path, busy_timeout)),
      insert_inbox(db,
                   "INSERT OR IGNORE INTO inbox (event_id, customer_id, topic, partition, offset, "
                   "payload, received_at_ms) VALUES (?, ?, ?, ?, ?, ?, ?)"),
      insert_job(db,
                 "INSERT INTO jobs (event_id, customer_id, state, next_attempt_at_ms, "
                 "created_at_ms, updated_at_ms, is_head) VALUES (?1, ?2, 'pending', ?3, ?3, ?3, "
                 "NOT EXISTS (SELECT 1 FROM jobs WHERE state = 'pending' AND customer_id = ?2))"),
      insert_rejected(db,
                      "INSERT OR IGNORE INTO rejected (topic, partition, offset, event_id, reason, "
                      "payload, rejected_at_ms) VALUES (?, ?, ?, ?, ?, ?, ?)"),
      insert_outbox(db,
                    "INSERT OR IGNORE INTO outbox (event_id, topic, key, payload, headers, "
                    "created_at_ms) VALUES (?, ?, ?, ?, ?, ?)"),
      due_jobs(db, R"sql(
SELECT j.job_id, i.payload, j.attempts, j.created_at_ms, j.next_attempt_at_ms,
       j.profile_applied, j.last_error_kind, j.last_error, j.conflict_attempts
FROM jobs AS j INDEXED BY jobs_heads_by_id JOIN inbox AS i ON i.event_id = j.event_id
WHERE j.state = 'pending' AND j.is_head = 1 AND j.next_attempt_at_ms <= ?1
  AND j.customer_id NOT IN (SELECT value FROM json_each(?2))
ORDER BY j.job_id
LIMIT ?3)sql") {}

bool Store::Impl::InsertOutbox(const provision::OutboundEvent& event, std::int64_t now_ms) {
    auto headers = nlohmann::json::array();
    for (const auto& [name, value] : event.headers) headers.push_back({name, value});
    StatementUse insert(insert_outbox);
    insert->bind(1, event.event_id);
    insert->bind(2, event.topic);
    insert->bind(3, event.key);
    insert->bind(4, event.payload);
    insert->bind(5, headers.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
    insert->bind(6, now_ms);
    return insert->exec() > 0;
}

Store::Store(const std::string& path, std::chrono::milliseconds busy_timeout,
             const core::Clock& clock) {
    CreateParentDirectory(path);
    try {
        impl_ = std::make_unique<Impl>(path, busy_timeout, clock);
    } catch (const SQLite::Exception& e) {
        throw StoreError("store " + path + ": " + e.what() + " (extended code " +
                         std::to_string(e.getExtendedErrorCode()) + ")");
    } catch (const std::runtime_error& e) {
        throw StoreError("store " + path + ": " + e.what());
    }
}

Store::~Store() = default;

core::Result<IngestSummary> Store::Ingest(const std::vector<AcceptedEvent>& accepted,
                                          const std::vector<RejectedEvent>& rejected) {
    return impl_->Run("ingest", [&]() -> core::Result<IngestSummary> {
        IngestSummary summary;
        auto now = impl_->NowMs();
        auto tx = impl_->Write();
        for (const auto& a : accepted) {
            StatementUse inbox(impl_->insert_inbox);
            inbox->bind(1, a.event.event_id);
            inbox->bind(2, a.event.customer_id);
            inbox->bind(3, a.origin.topic);
            inbox->bind(4, a.origin.partition);
            inbox->bind(5, a.origin.offset);
            inbox->bind(6, events::ToJson(a.event));
            inbox->bind(7, now);
            if (inbox->exec() == 0) {
                ++summary.duplicates;
                continue;
            }
            StatementUse job(impl_->insert_job);
            job->bind(1, a.event.event_id);
            job->bind(2, a.event.customer_id);
            job->bind(3, now);
            job->exec();
            ++summary.accepted;
        }
        for (const auto& r : rejected) {
            const auto& raw = r.dead_letter.payload;
            StatementUse row(impl_->insert_rejected);
            row->bind(1, r.origin.topic);
            row->bind(2, r.origin.partition);
            row->bind(3, r.origin.offset);
            row->bind(4, EventIdOf(raw));
            row->bind(5, r.reason);
            row->bind(6, raw.substr(0, kMaxRejectedPayload));
            row->bind(7, now);
            if (row->exec() > 0) ++summary.rejected;
            impl_->InsertOutbox(r.dead_letter, now);
        }
        tx.commit();
        return summary;
    });
}

core::Result<std::vector<OutboxRow>> Store::PendingOutbox(std::int64_t after_seq,
                                                          std::size_t limit) {
    return impl_->Run("pending outbox", [&]() -> core::Result<std::vector<OutboxRow>> {
        SQLite::Statement query(impl_->db,
                                "SELECT seq, event_id, topic, key, payload, headers FROM outbox "
                                "WHERE sent_at_ms IS NULL AND seq > ? ORDER BY seq LIMIT ?");
        query.bind(1, after_seq);
        query.bind(2, static_cast<std::int64_t>(limit));
        std::vector<OutboxRow> rows;
        while (query.executeStep()) {
            OutboxRow row;
            row.seq = query.getColumn(0).getInt64();
            row.event.event_id = query.getColumn(1).getString();
            row.event.topic = query.getColumn(2).getString();
            row.event.key = query.getColumn(3).getString();
            row.event.payload = query.getColumn(4).getString();
            for (const auto& header : nlohmann::json::parse(query.getColumn(5).getString())) {
                row.event.headers.emplace_back(header.at(0).get<std::string>(),
                                               header.at(1).get<std::string>());
            }
            rows.push_back(std::move(row));
        }
        return rows;
    });
}

core::Status Store::MarkSent(std::int64_t seq) {
    return impl_->Run("mark sent", [&]() -> core::Status {
        SQLite::Statement update(
            impl_->db, "UPDATE outbox SET sent_at_ms = ? WHERE seq = ? AND sent_at_ms IS NULL");
        update.bind(1, impl_->NowMs());
        update.bind(2, seq);
        update.exec();
        return {};
    });
}

core::Result<std::int64_t> Store::CountUnsentOutbox() {
    return impl_->Run("count unsent outbox", [&]() -> core::Result<std::int64_t> {
        return impl_->db.execAndGet("SELECT count(*) FROM outbox WHERE sent_at_ms IS NULL")
            .getInt64();
    });
}

}  // namespace kyc_bridge::store
