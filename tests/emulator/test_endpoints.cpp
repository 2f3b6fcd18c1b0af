// SPDX-License-Identifier: Apache-2.0
// /__emulator/*: what tests use to seed the tenant, look inside it and make it misbehave.
#include "emulator.hpp"
#include "replies.hpp"

namespace auth0_emulator {

void Emulator::HandleTestEndpoint(const httplib::Request& request, httplib::Response& response) {
    const auto route =
        request.method + " " + request.path.substr(std::string("/__emulator").size());
    auto body = json::parse(request.body.empty() ? "{}" : request.body, nullptr, false);
    if (body.is_discarded()) return SendJson(response, 400, {{"error", "body is not JSON"}});
    std::lock_guard lock(mutex_);
    try {
        if (route == "GET /users") return SendJson(response, 200, directory_.Dump());
        if (route == "POST /users") {
            json created = json::array();
            for (const auto& seed : body.is_array() ? body : json::array({body})) {
                auto result = directory_.Seed(seed, Now());
                if (auto* error = std::get_if<ApiError>(&result))
                    return SendApiError(response, *error);
                created.push_back(std::get<json>(result));
            }
            return SendJson(response, 201, created);
        }
        if (route == "GET /emails") return SendJson(response, 200, emails_);
        if (route == "GET /requests") return SendJson(response, 200, requests_);
        if (route == "GET /stats") {
            json batch_sizes = json::object();  // "users in the call": calls
            for (const auto& [users, calls] : role_batch_sizes_)
                batch_sizes[std::to_string(users)] = calls;
            return SendJson(response, 200,
                            {{"token_requests", token_requests_},
                             {"management_requests", management_requests_},
                             {"rate_limited", rate_limited_},
                             {"faults_injected", faults_injected_},
                             {"users", directory_.size()},
                             {"emails", emails_.size()},
                             {"by_route", by_route_},
                             {"role_batch_sizes", batch_sizes}});
        }
        if (route == "POST /faults") {
            Fault fault;
            fault.kind = body.at("kind").get<std::string>();
            if (fault.kind != "status" && fault.kind != "delay" && fault.kind != "drop" &&
                fault.kind != "drop_after" && fault.kind != "vanish_after_create") {
                return SendJson(response, 400,
                                {{"error", "kind must be status, delay, drop, drop_after or "
                                           "vanish_after_create"}});
            }
            if (fault.kind == "vanish_after_create") {
                // {"user_ids": ["auth0|cus_1", ...]}: full ids, as POST /api/v2/users answers.
                fault.user_ids = body.at("user_ids").get<std::set<std::string>>();
                if (fault.user_ids.empty())
                    return SendJson(response, 400, {{"error", "user_ids must not be empty"}});
            }
            fault.rate = body.value("rate", 1.0);
            fault.until =
                Clock::now() + std::chrono::milliseconds{body.value("duration_ms", 60000)};
            fault.path_prefix = body.value("path_prefix", "/");
            fault.status = body.value("status", 503);
            fault.delay_ms = body.value("delay_ms", 0);
            faults_.push_back(fault);
            return SendJson(response, 201, {{"faults", faults_.size()}});
        }
        if (route == "DELETE /faults") {
            faults_.clear();
            return SendJson(response, 200, json::object());
        }
        if (route == "POST /tokens/invalidate") {
            // Tokens cannot be revoked in Auth0 (§2); what a client meets is an expired token.
            for (auto& [token, info] : tokens_) info.expires_at = Clock::now();
            return SendJson(response, 200, {{"invalidated", tokens_.size()}});
        }
        if (route == "POST /credentials") {
            reject_credentials_until_ =
                Clock::now() + std::chrono::milliseconds{body.value("reject_for_ms", 0)};
            return SendJson(response, 200, json::object());
        }
        if (route == "POST /scopes") {
            options_.scopes = body.at("scopes").get<std::vector<std::string>>();
            return SendJson(response, 200, json::object());
        }
        if (route == "POST /reject-email") {
            const auto email = Lower(body.at("email").get<std::string>());
            const int status = body.value("status", 400);
            rejected_emails_[email] = {
                status,
                body.value(
                    "message",
                    "Payload validation error: 'Object didn't pass validation for format email: " +
                        email + "' on property email (The user's email)."),
                body.value("error_code", "invalid_body")};
            return SendJson(response, 200, json::object());
        }
        if (route == "POST /ghost-conflict") {
            if (body.contains("email"))
                ghost_conflicts_.insert(Lower(body["email"].get<std::string>()));
            if (body.contains("user_id"))
                ghost_conflicts_.insert(body["user_id"].get<std::string>());
            return SendJson(response, 200, json::object());
        }
        if (route == "POST /rate-limit") {
            options_.rate_limit_per_second = body.value("per_second", 0.0);
            options_.rate_limit_burst = body.value("burst", options_.rate_limit_per_second);
            bucket_ = options_.rate_limit_burst;
            return SendJson(response, 200, json::object());
        }
        if (route == "POST /reset") {
            directory_.Reset();
            resource_servers_.clear();
            client_grants_.clear();
            role_permissions_.clear();
            tokens_.clear();
            faults_.clear();
            emails_.clear();
            requests_.clear();
            by_route_.clear();
            role_batch_sizes_.clear();
            token_requests_ = management_requests_ = rate_limited_ = faults_injected_ = 0;
            rejected_emails_.clear();
            ghost_conflicts_.clear();
            password_emails_at_.clear();
            return SendJson(response, 200, json::object());
        }
    } catch (const json::exception& e) {
        return SendJson(response, 400, {{"error", e.what()}});
    }
    SendJson(response, 404, {{"error", "no test endpoint " + route}});
}

}  // namespace auth0_emulator
