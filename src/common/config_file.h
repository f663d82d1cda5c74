// Reads Options from a JSON config file. Keys are the field names of
// Options, nested objects for the sub-structs, e.g.
//   {"listen": "0.0.0.0:8080", "limits": {"body_max": 8192},
//    "rate": {"send_per_sec": 50}}
// Unknown keys and wrong types are errors, so that typos do not pass silently.
#pragma once

#include <string>

#include "common/options.h"
#include "common/status.h"

namespace parley {

Status LoadConfigFile(const std::string& path, Options* options);

}  // namespace parley
