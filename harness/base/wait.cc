#include "base/wait.h"

#include <poll.h>

#include <algorithm>
#include <climits>
#include <thread>

#include "base/deadline.h"

namespace harness {

bool WaitFor(Duration d, const CancelToken& cancel) {
  Deadline until = Deadline::In(d);
  const int fd = cancel.fd();
  while (!cancel.cancelled() && !until.passed()) {
    if (fd < 0) {
      std::this_thread::sleep_for(until.remaining());
      continue;
    }
    pollfd p{fd, POLLIN, 0};
    int ms = static_cast<int>(std::min<long long>(until.remaining().count(), INT_MAX));
    if (poll(&p, 1, ms) > 0) break;  // readable: cancelled
  }
  return !cancel.cancelled();
}

}  // namespace harness
