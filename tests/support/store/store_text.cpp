// SPDX-License-Identifier: Apache-2.0
#include "store_text.hpp"

#include <sqlite3.h>

#include <memory>
#include <stdexcept>
#include <vector>

namespace kyc_bridge::testing {

std::string AllStoreText(const std::string& path) {
    sqlite3* raw = nullptr;
    const int opened = sqlite3_open_v2(path.c_str(), &raw, SQLITE_OPEN_READONLY, nullptr);
    std::unique_ptr<sqlite3, decltype(&sqlite3_close)> db(raw, &sqlite3_close);
    // An empty dump would pass every "not in the store" check: a store that cannot be read is
    // an error, not an empty one.
    if (opened != SQLITE_OK) throw std::runtime_error("cannot open store " + path);
    sqlite3_busy_timeout(db.get(), 5000);
    auto rows = [&](const std::string& sql, auto&& each_row) {
        sqlite3_stmt* stmt = nullptr;
        if (sqlite3_prepare_v2(db.get(), sql.c_str(), -1, &stmt, nullptr) != SQLITE_OK) {
            throw std::runtime_error("store query failed: " + std::string(sqlite3_errmsg(db.get())) +
                                     ": " + sql);
        }
        int step = SQLITE_ROW;
        while ((step = sqlite3_step(stmt)) == SQLITE_ROW) each_row(stmt);
        sqlite3_finalize(stmt);
        if (step != SQLITE_DONE) throw std::runtime_error("store read failed: " + sql);
    };
    // Every table there is, not a list of today's: a table added later is searched too.
    std::vector<std::string> tables;
    rows("SELECT name FROM sqlite_master WHERE type = 'table'", [&](sqlite3_stmt* stmt) {
        tables.emplace_back(reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0)));
    });
    std::string all;
    for (const auto& table : tables) {
        rows("SELECT * FROM \"" + table + "\"", [&](sqlite3_stmt* stmt) {
            for (int c = 0; c < sqlite3_column_count(stmt); ++c) {
                if (const auto* text = sqlite3_column_text(stmt, c)) {
                    all += reinterpret_cast<const char*>(text);
                    all += '\n';
                }
            }
        });
    }
    return all;
}

}  // namespace kyc_bridge::testing
