#include "common/json_error.h"

#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

namespace parley {

std::string ErrorBody(const Status& status) {
  boost::json::object inner;
  inner["code"] = CodeName(status.code());
  inner["message"] = status.message();
  boost::json::object outer;
  outer["error"] = std::move(inner);
  return boost::json::serialize(outer);
}

}  // namespace parley
