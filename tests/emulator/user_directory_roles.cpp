// SPDX-License-Identifier: Apache-2.0
// Roles created, renamed and deleted through the Management API (tenant as code, #10).
#include <algorithm>
#include <random>

#include "user_directory.hpp"

namespace auth0_emulator {

namespace {

std::string NewRoleId() {
    static thread_local std::mt19937_64 rng{std::random_device{}()};
    static constexpr char kHex[] = "0123456789abcdef";
    std::string id = "rol_";
    for (int i = 0; i < 16; ++i) id += kHex[rng() % 16];
    return id;
}

}  // namespace

std::variant<Role, ApiError> UserDirectory::CreateRole(const std::string& name,
                                                       const std::string& description) {
    if (std::any_of(roles_.begin(), roles_.end(), [&](const Role& r) { return r.name == name; }))
        return ApiError{409, "The role already exists.", "role_conflict"};
    roles_.push_back({NewRoleId(), name, description});
    return roles_.back();
}

std::variant<Role, ApiError> UserDirectory::UpdateRole(
    const std::string& role_id, const std::optional<std::string>& name,
    const std::optional<std::string>& description) {
    auto it =
        std::find_if(roles_.begin(), roles_.end(), [&](const Role& r) { return r.id == role_id; });
    if (it == roles_.end()) return ApiError{404, "The role does not exist.", "inexistent_role"};
    if (name && std::any_of(roles_.begin(), roles_.end(),
                            [&](const Role& r) { return r.name == *name && r.id != role_id; })) {
        return ApiError{409, "The role already exists.", "role_conflict"};
    }
    if (name) it->name = *name;
    if (description) it->description = *description;
    return *it;
}

bool UserDirectory::DeleteRole(const std::string& role_id) {
    // "Once deleted, it is removed from any user who was previously assigned that role."
    // (auth0.com/docs/api/management/v2/roles/delete-roles-by-id)
    const auto removed = std::erase_if(roles_, [&](const Role& r) { return r.id == role_id; });
    for (auto& [user, roles] : assigned_) roles.erase(role_id);
    return removed > 0;
}

std::optional<Role> UserDirectory::FindRole(const std::string& role_id) const {
    for (const auto& role : roles_) {
        if (role.id == role_id) return role;
    }
    return std::nullopt;
}

}  // namespace auth0_emulator
