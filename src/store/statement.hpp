// SPDX-License-Identifier: Apache-2.0
// Helpers around SQLiteCpp statements: a reset guard for cached statements and the error funnel.
#pragma once

#include <SQLiteCpp/Exception.h>
#include <SQLiteCpp/Statement.h>

#include <string_view>

#include "kyc_bridge/core/error.hpp"

namespace kyc_bridge::store {

/// "store: <operation>: <sqlite message> (extended code N)", kTransient: SQLITE_BUSY, I/O errors
/// and a full disk clear up on their own or by an operator, and the caller retries.
/// Codes that retrying cannot heal (SQLITE_CORRUPT, SQLITE_NOTADB, SQLITE_READONLY,
/// SQLITE_CONSTRAINT) keep kTransient for the caller (nothing is acknowledged) but set
/// StoreStats::unrecoverable_code, on which the daemon stops.
core::Error ErrorFrom(std::string_view operation, const SQLite::Exception& e);

/// How many transactions in a row may fail with SQLITE_FULL before the full disk counts as
/// unrecoverable: a log rotation or an operator may free space within a few commits.
inline constexpr int kFullCommitsBeforeFatal = 20;

/// Leaves a cached statement reset (not holding a read snapshot) whatever happens after bind.
class StatementUse {
public:
    explicit StatementUse(SQLite::Statement& statement) : statement_(statement) {
        statement_.tryReset();
        statement_.clearBindings();
    }
    ~StatementUse() { statement_.tryReset(); }
    StatementUse(const StatementUse&) = delete;
    StatementUse& operator=(const StatementUse&) = delete;
    SQLite::Statement& operator*() { return statement_; }
    SQLite::Statement* operator->() { return &statement_; }

private:
    SQLite::Statement& statement_;
};

}  // namespace kyc_bridge::store
