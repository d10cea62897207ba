#include "base/exit_code.h"

#include <csignal>

#include "base/cancel.h"

namespace harness {
namespace {

int Rank(int code) {
  if (code >= 128) return 4;
  if (code == 3) return 3;
  if (code == 2) return 2;
  if (code == 1) return 1;
  return code == 0 ? 0 : 3;  // anything else is the harness's own failure
}

}  // namespace

int ExitCodeFor(const Status& status) { return ExitCodeFor(status, CancelToken::Signals().signal()); }

int ExitCodeFor(const Status& status, int signal) {
  switch (status.code()) {
    case Status::Code::kOk:
      return 0;
    case Status::Code::kFailed:
    case Status::Code::kTimeout:
      return 1;
    case Status::Code::kInvalidArgument:
    case Status::Code::kNotFound:
      return 2;
    case Status::Code::kCancelled:
      return ExitCodeForSignal(signal != 0 ? signal : SIGINT);
    case Status::Code::kInfra:
      break;
  }
  return 3;
}

Status StatusForExitCode(int code, std::string message) {
  switch (Rank(code)) {
    case 0:
      return Status::Ok();
    case 1:
      return Status::Failed(std::move(message));
    case 2:
      return Status::InvalidArgument(std::move(message));
    case 4:
      return Status::Cancelled(std::move(message));
    default:
      return Status::Infra(std::move(message));
  }
}

int WorseExitCode(int a, int b) { return Rank(b) > Rank(a) ? b : a; }

int CombinedExitCode(const std::vector<int>& codes) {
  int code = 0;
  for (int c : codes) code = WorseExitCode(code, c);
  return code;
}

}  // namespace harness
