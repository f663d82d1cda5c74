// Deliberately wrong: the connect room reaching into the api room, which the
// build must refuse (see tests/rooms/CMakeLists.txt). Never part of `all`.
#include "api/http_server.h"
