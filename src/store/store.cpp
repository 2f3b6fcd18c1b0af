// SPDX-License-Identifier: Apache-2.0
// Opening the store, ingesting consumer batches, the outbox and the ops queries.
#include "kyc_bridge/store/store.hpp"

#include <sqlite3.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <system_error>

#include "kyc_bridge/core/ids.hpp"
#include "kyc_bridge/core/logging.hpp"
#include "kyc_bridge/events/kyc_verified.hpp"
#include "schema.hpp"
#include "store_impl.hpp"

namespace kyc_bridge::store {

namespace {

std::string SqliteSlug(int extended_code) {
    switch (extended_code & 0xff) {
        case SQLITE_BUSY:
            return "sqlite_busy";
        case SQLITE_LOCKED:
            return "sqlite_locked";
        case SQLITE_IOERR:
            return "sqlite_ioerr";
        case SQLITE_FULL:
            return "sqlite_full";
        case SQLITE_CORRUPT:
            return "sqlite_corrupt";
        case SQLITE_NOTADB:
            return "sqlite_notadb";
        case SQLITE_READONLY:
            return "sqlite_readonly";
        case SQLITE_CONSTRAINT:
            return "sqlite_constraint";
        case SQLITE_CANTOPEN:
            return "sqlite_cantopen";
        default:
            return "sqlite_error";
    }
}

// The store holds emails and names: a directory it creates is 0700, whatever the umask.
void CreateParentDirectory(const std::string& path) {
    auto parent = std::filesystem::path(path).parent_path();
    if (parent.empty()) return;
    std::error_code ec;
    std::vector<std::filesystem::path> missing;
    for (auto dir = parent; !dir.empty() && !std::filesystem::exists(dir, ec);
         dir = dir.parent_path()) {
        missing.push_back(dir);
        if (dir == dir.parent_path()) break;
    }
    std::filesystem::create_directories(parent, ec);
    if (ec) {
        throw StoreError("store " + path + ": cannot create directory " + parent.string() + ": " +
                         ec.message());
    }
    for (const auto& dir : missing) ::chmod(dir.c_str(), 0700);
}

// Creates the file 0600 before SQLite sees it (an empty file is an empty database), so it is
// never readable by others, not even for a moment; SQLite creates the -wal and -shm files with
// the database file's mode (os_unix.c, findCreateFileMode).
void CreateStoreFile(const std::string& path) {
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd >= 0) {
        ::fchmod(fd, 0600);  // the umask may have removed bits, never added them; be explicit
        ::close(fd);
        return;
    }
    if (errno != EEXIST) {
        throw StoreError("store " + path + ": cannot create the file: " + std::strerror(errno));
    }
}

// An existing store that group or others can read: warned of, or refused with strict modes.
void CheckFileMode(const std::string& path, bool strict) {
    struct stat info {};
    if (::stat(path.c_str(), &info) != 0 || (info.st_mode & 0077) == 0) return;
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(info.st_mode & 07777));
    const std::string problem = "store " + path + " has mode " + mode +
                                ": group or others can read personal data; chmod 600 it (and "
                                "its -wal and -shm files)";
    if (strict) throw StoreError(problem + " (store.strict_modes = true)");
    core::Logger("store")->warn("event=store_mode_too_open path={} mode={} hint=\"chmod 600 the "
                                "store and its -wal/-shm files, or set store.strict_modes = true "
                                "to refuse it\"",
                                path, mode);
}

// The write connection. Throws SQLite::Exception or std::runtime_error (schema from a newer
// build).
SQLite::Database OpenWriter(const std::string& path, std::chrono::milliseconds busy_timeout,
                            StoreOptions::Open open) {
    int flags = SQLite::OPEN_READWRITE;
    if (open == StoreOptions::Open::kCreate) flags |= SQLite::OPEN_CREATE;
    SQLite::Database db(path, flags, static_cast<int>(busy_timeout.count()));
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

// The read connection, opened after the writer made and migrated the file. WAL is persistent
// in the file, so its reads take snapshots and never wait for the writer's transaction.
SQLite::Database OpenReader(const std::string& path, std::chrono::milliseconds busy_timeout) {
    return SQLite::Database(path, SQLite::OPEN_READWRITE, static_cast<int>(busy_timeout.count()));
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

bool IsUnrecoverable(int extended_code) {
    if (extended_code < 0) return false;
    switch (extended_code & 0xff) {
        case SQLITE_CORRUPT:
        case SQLITE_NOTADB:
        case SQLITE_READONLY:
        case SQLITE_CONSTRAINT:
            return true;
        default:
            return false;
    }
}

core::Error ErrorFrom(std::string_view operation, const SQLite::Exception& e) {
    int extended = e.getExtendedErrorCode();
    return core::Error::Transient("store: " + std::string(operation) + ": " + e.what() +
                                      " (extended code " + std::to_string(extended) + ")",
                                  extended < 0 ? "store_error" : SqliteSlug(extended));
}

Store::Impl::Impl(const std::string& path, std::chrono::milliseconds busy_timeout,
                  const core::Clock& clock, StoreOptions options)
    : path(path),
      clock(clock),
      write_db(OpenWriter(path, busy_timeout, options.open)),
      read_db(OpenReader(path, busy_timeout)),
      w(write_db),
      r(read_db),
      writer(write_db, options, stats) {}

bool Store::Impl::InsertOutbox(const provision::OutboundEvent& event, std::int64_t now_ms,
                               const std::string& source_event_id, bool erase_when_sent) {
    auto headers = nlohmann::json::array();
    for (const auto& [name, value] : event.headers) headers.push_back({name, value});
    StatementUse insert(w.insert_outbox);
    insert->bind(1, event.event_id);
    insert->bind(2, event.topic);
    insert->bind(3, event.key);
    insert->bind(4, event.payload);
    insert->bind(5, headers.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
    insert->bind(6, now_ms);
    if (!source_event_id.empty()) insert->bind(7, source_event_id);  // unbound stays NULL
    insert->bind(8, erase_when_sent ? 1 : 0);
    return insert->exec() > 0;
}

Store::Impl::InboxResult Store::Impl::InsertInbox(const AcceptedEvent& a, std::int64_t now) {
    const auto payload = a.revoked ? events::ToJson(*a.revoked) : events::ToJson(a.event);
    const auto hash = core::Sha256Hex(payload);
    StatementUse inbox(w.insert_inbox);
    inbox->bind(1, a.event.event_id);
    inbox->bind(2, a.event.customer_id);
    inbox->bind(3, a.origin.topic);
    inbox->bind(4, a.origin.partition);
    inbox->bind(5, a.origin.offset);
    inbox->bind(6, payload);
    inbox->bind(7, now);
    inbox->bind(8, hash);
    if (inbox->exec() == 0) {
        // Known event_id: the same event redelivered, or the id reused for another payload,
        // which must not vanish as a "duplicate". Rows from before schema 5 have no hash yet.
        StatementUse known(w.inbox_hash);
        known->bind(1, a.event.event_id);
        if (!known->executeStep()) return InboxResult::kDuplicate;
        auto stored = known->getColumn(0).getString();
        if (stored.empty()) stored = core::Sha256Hex(known->getColumn(1).getString());
        return stored == hash ? InboxResult::kDuplicate : InboxResult::kConflict;
    }
    StatementUse job(w.insert_job);
    job->bind(1, a.event.event_id);
    job->bind(2, a.event.customer_id);
    job->bind(3, now);
    job->exec();
    if (a.revoked) {
        StatementUse kind(w.job_kind);
        kind->bind(1, "revoke");
        kind->bind(2, write_db.getLastInsertRowid());
        kind->exec();
    }
    return InboxResult::kNew;
}

Store::Store(const std::string& path, std::chrono::milliseconds busy_timeout,
             const core::Clock& clock, StoreOptions options) {
    if (options.open == StoreOptions::Open::kOpenExisting) {
        // A mistyped path must not become a new, empty, migrated store.
        std::error_code ec;
        if (!std::filesystem::is_regular_file(path, ec)) {
            throw StoreError("store " + path + ": no such store file (check store.path or --store)");
        }
    } else {
        CreateParentDirectory(path);
        CreateStoreFile(path);
    }
    CheckFileMode(path, options.strict_modes);
    try {
        impl_ = std::make_unique<Impl>(path, busy_timeout, clock, options);
    } catch (const SQLite::Exception& e) {
        throw StoreError("store " + path + ": " + e.what() + " (extended code " +
                         std::to_string(e.getExtendedErrorCode()) + ")");
    } catch (const std::runtime_error& e) {
        throw StoreError("store " + path + ": " + e.what());
    }
}

Store::~Store() {
    if (impl_) impl_->writer.Stop();  // drains the queue: every waiter hears its outcome
}

const StoreStats& Store::stats() const { return impl_->stats; }

const std::string& Store::path() const { return impl_->path; }

std::string DescribeSqliteCode(int extended_code) { return sqlite3_errstr(extended_code); }

int CurrentSchemaVersion() { return LatestSchemaVersion(); }

void CreateStoreAtSchemaVersion(const std::string& path, int version) {
    try {
        SQLite::Database db(path, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
        db.exec("PRAGMA journal_mode = WAL");
        MigrateTo(db, version);
    } catch (const SQLite::Exception& e) {
        throw StoreError("store " + path + ": " + e.what());
    }
}

std::string HintForSqliteCode(int extended_code) {
    switch (extended_code & 0xff) {
        case SQLITE_CORRUPT:
        case SQLITE_NOTADB:
            return "stop every kyc-bridge process on this file, keep a copy of it, and restore "
                   "it from a backup or run `sqlite3 FILE '.recover'` into a new file; offsets of "
                   "events not yet in the store were not committed and are consumed again";
        case SQLITE_READONLY:
            return "make the file, its -wal and -shm files and their directory writable by the "
                   "daemon's user (a read-only mount, a changed owner or mode)";
        case SQLITE_FULL:
            return "free space on the file's filesystem (the store needs room for its WAL)";
        case SQLITE_CONSTRAINT:
            return "a constraint of the schema was broken, which is a bug or a store edited by "
                   "hand: keep a copy of the file and report it";
        default:
            return "see the log lines before this one";
    }
}

core::Result<IngestSummary> Store::Ingest(const std::vector<AcceptedEvent>& accepted,
                                          const std::vector<RejectedEvent>& rejected) {
    IngestSummary summary;
    auto written = impl_->WriteAndWait("ingest", [&]() -> core::Status {
        auto now = impl_->NowMs();
        auto reject = [&](const RejectedEvent& r) {
            // Callers that build the dead letter from the raw value alone may leave payload empty.
            const auto& raw = r.payload.empty() ? r.dead_letter.payload : r.payload;
            StatementUse row(impl_->w.insert_rejected);
            row->bind(1, r.origin.topic);
            row->bind(2, r.origin.partition);
            row->bind(3, r.origin.offset);
            row->bind(4, EventIdOf(raw));
            row->bind(5, r.reason);
            row->bind(6, raw.substr(0, kMaxRejectedPayload));
            row->bind(7, now);
            if (row->exec() > 0) ++summary.rejected;
            impl_->InsertOutbox(r.dead_letter, now, {}, true);
        };
        for (const auto& a : accepted) {
            switch (impl_->InsertInbox(a, now)) {
                case Impl::InboxResult::kNew: ++summary.accepted; break;
                case Impl::InboxResult::kDuplicate: ++summary.duplicates; break;
                case Impl::InboxResult::kConflict:
                    ++summary.conflicts;
                    if (a.on_conflict) reject(a.on_conflict(kEventIdConflictReason));
                    break;
            }
        }
        for (const auto& r : rejected) reject(r);
        return {};
    });
    if (!written) return written.error();
    return summary;
}

core::Result<std::vector<OutboxRow>> Store::PendingOutbox(std::int64_t after_seq,
                                                          std::size_t limit) {
    return impl_->Read("pending outbox", [&]() -> core::Result<std::vector<OutboxRow>> {
        StatementUse query(impl_->r.pending_outbox);
        query->bind(1, after_seq);
        query->bind(2, static_cast<std::int64_t>(limit));
        std::vector<OutboxRow> rows;
        while (query->executeStep()) {
            OutboxRow row;
            row.seq = query->getColumn(0).getInt64();
            row.event.event_id = query->getColumn(1).getString();
            row.event.topic = query->getColumn(2).getString();
            row.event.key = query->getColumn(3).getString();
            row.event.payload = query->getColumn(4).getString();
            for (const auto& header : nlohmann::json::parse(query->getColumn(5).getString())) {
                row.event.headers.emplace_back(header.at(0).get<std::string>(),
                                               header.at(1).get<std::string>());
            }
            rows.push_back(std::move(row));
        }
        return rows;
    });
}

core::Status Store::MarkSent(const std::vector<std::int64_t>& seqs) {
    return impl_->WriteAndWait("mark sent", [&]() -> core::Status {
        auto now = impl_->NowMs();
        for (auto seq : seqs) {
            StatementUse update(impl_->w.mark_sent);
            update->bind(1, now);
            update->bind(2, seq);
            update->exec();
        }
        return {};
    });
}

core::Status Store::SetAsideOutbox(std::int64_t seq, const std::string& reason) {
    return impl_->WriteAndWait("set aside outbox row", [&]() -> core::Status {
        StatementUse update(impl_->w.set_aside);
        update->bind(1, reason);
        update->bind(2, impl_->NowMs());
        update->bind(3, seq);
        update->exec();
        return {};
    });
}

core::Result<std::int64_t> Store::CountUnsentOutbox() {
    return impl_->Read("count unsent outbox", [&]() -> core::Result<std::int64_t> {
        StatementUse query(impl_->r.count_unsent);
        query->executeStep();
        return query->getColumn(0).getInt64();
    });
}

core::Result<std::vector<SetAsideRow>> Store::ListSetAside(std::size_t limit) {
    return impl_->Read("list set aside", [&]() -> core::Result<std::vector<SetAsideRow>> {
        StatementUse query(impl_->r.list_set_aside);
        query->bind(1, static_cast<std::int64_t>(limit));
        std::vector<SetAsideRow> rows;
        while (query->executeStep()) {
            rows.push_back({query->getColumn(0).getInt64(), query->getColumn(1).getString(),
                            query->getColumn(2).getString(), query->getColumn(3).getString(),
                            query->getColumn(4).getInt64()});
        }
        return rows;
    });
}

core::Result<std::int64_t> Store::CountSetAside() {
    return impl_->Read("count set aside", [&]() -> core::Result<std::int64_t> {
        StatementUse query(impl_->r.count_set_aside);
        query->executeStep();
        return query->getColumn(0).getInt64();
    });
}

}  // namespace kyc_bridge::store
