// Wait: a pause that cancellation cuts short.
//
// WaitFor() is the one way to sleep between polls or retries: it waits on the token's
// descriptor (CancelToken::fd()), so a signal or a CancelSource ends the pause at once
// instead of at the next poll. Plain function; any thread.
#pragma once

#include "base/cancel.h"
#include "base/time.h"

namespace harness {

// Sleeps up to `d`, returning early once `cancel` is cancelled. True when the pause ran
// its course uncancelled; false when `cancel` is cancelled (before or during the pause).
// With a token without a descriptor (CancelToken::None()) it simply sleeps.
// REQUIRES: d fits Clock (no Duration::max()).
bool WaitFor(Duration d, const CancelToken& cancel);

}  // namespace harness
