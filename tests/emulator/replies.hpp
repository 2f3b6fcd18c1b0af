// SPDX-License-Identifier: Apache-2.0
// Auth0-shaped answers and route names, shared by the emulator's handlers.
#pragma once

#include <httplib.h>

#include <nlohmann/json.hpp>
#include <string>
#include <utility>

#include "user_directory.hpp"

namespace auth0_emulator {

using nlohmann::json;

inline void SendJson(httplib::Response& response, int status, const json& body) {
    response.status = status;
    response.set_content(body.dump(), "application/json; charset=utf-8");
}

inline void SendApiError(httplib::Response& response, const ApiError& error) {
    SendJson(response, error.status, ErrorBody(error));
}

// The Authentication API's error shape: {"error","error_description"} (§2).
inline void SendOAuthError(httplib::Response& response, int status, const std::string& error,
                           const std::string& description) {
    SendJson(response, status, {{"error", error}, {"error_description", description}});
}

inline std::string PercentDecode(const std::string& in) {
    std::string out;
    for (std::size_t i = 0; i < in.size(); ++i) {
        if (in[i] == '%' && i + 2 < in.size()) {
            out.push_back(static_cast<char>(std::stoi(in.substr(i + 1, 2), nullptr, 16)));
            i += 2;
        } else {
            out.push_back(in[i]);
        }
    }
    return out;
}

// "/api/v2/users/auth0%7Cx/roles" → ("/api/v2/users/{id}/roles", "auth0|x");
// "/api/v2/roles/rol_1/users" → ("/api/v2/roles/{id}/users", "rol_1").
inline std::pair<std::string, std::string> ManagementRoute(const std::string& path) {
    for (const std::string prefix : {"/api/v2/users/", "/api/v2/roles/"}) {
        if (path.rfind(prefix, 0) != 0 || path.size() <= prefix.size()) continue;
        auto rest = path.substr(prefix.size());
        auto slash = rest.find('/');
        auto id = PercentDecode(rest.substr(0, slash));
        auto route = prefix + "{id}";
        return {slash == std::string::npos ? route : route + rest.substr(slash), id};
    }
    return {path, ""};
}

}  // namespace auth0_emulator
