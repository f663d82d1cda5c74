// The JSON error body of PROTOCOL.md: {"error":{"code":"...","message":"..."}}.
#pragma once

#include <string>

#include "common/status.h"

namespace parley {

std::string ErrorBody(const Status& status);

}  // namespace parley
