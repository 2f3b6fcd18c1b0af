// SPDX-License-Identifier: Apache-2.0
// Names of error kinds and the common constructors.
#include "kyc_bridge/core/error.hpp"

namespace kyc_bridge::core {

std::string_view ToString(ErrorKind kind) {
    switch (kind) {
        case ErrorKind::kTransient: return "transient";
        case ErrorKind::kRateLimited: return "rate_limited";
        case ErrorKind::kUnauthorized: return "unauthorized";
        case ErrorKind::kConfiguration: return "configuration";
        case ErrorKind::kPermanent: return "permanent";
        case ErrorKind::kConflict: return "conflict";
    }
    return "unknown";
}

Error Error::Transient(std::string message, std::string code) {
    return Error{ErrorKind::kTransient, std::move(message), std::move(code), 0, std::nullopt};
}

Error Error::Permanent(std::string message, std::string code) {
    return Error{ErrorKind::kPermanent, std::move(message), std::move(code), 0, std::nullopt};
}

}  // namespace kyc_bridge::core
