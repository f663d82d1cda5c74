#include "common/thread_name.h"

#include <pthread.h>

#include <algorithm>
#include <cstring>

namespace parley {

void NameThisThread(std::string_view name) {
  // The kernel's limit: 16 bytes with the terminating NUL.
  char buf[16];
  size_t n = std::min(name.size(), sizeof buf - 1);
  std::memcpy(buf, name.data(), n);
  buf[n] = '\0';
  pthread_setname_np(pthread_self(), buf);
}

}  // namespace parley
