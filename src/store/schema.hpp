// SPDX-License-Identifier: Apache-2.0
// The store's schema as an ordered list of migrations, tracked in PRAGMA user_version.
#pragma once

#include <SQLiteCpp/Database.h>

namespace kyc_bridge::store {

/// Number of migrations this build knows; a file at a higher user_version was written by a newer
/// kyc-bridge.
int LatestSchemaVersion();

/// Applies every migration above the file's user_version, each in its own IMMEDIATE transaction
/// that also bumps user_version, so a crash leaves the file at a whole version. Two processes
/// opening a fresh file at once are safe: the version is re-read under the write lock.
/// Throws SQLite::Exception, or std::runtime_error if the file is newer than this build.
void Migrate(SQLite::Database& db);

/// Applies the migrations up to `version` only: the file as the release of that schema left it.
void MigrateTo(SQLite::Database& db, int version);

}  // namespace kyc_bridge::store
