// SPDX-License-Identifier: Apache-2.0
// Every text cell of every table of a SQLite store, for tests asserting what personal data a
// store still holds (issue #9) — in unit tests and against the real daemon's file alike.
#pragma once

#include <string>

namespace kyc_bridge::testing {

/// The text of every column of every row of every table of the store at `path`, one cell a
/// line, read-only (the daemon may be running). Throws std::runtime_error if the store cannot
/// be opened or read.
std::string AllStoreText(const std::string& path);

}  // namespace kyc_bridge::testing
