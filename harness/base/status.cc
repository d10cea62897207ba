#include "base/status.h"

namespace harness {

const char* CodeName(Status::Code code) {
  switch (code) {
    case Status::Code::kOk: return "ok";
    case Status::Code::kInvalidArgument: return "invalid argument";
    case Status::Code::kNotFound: return "not found";
    case Status::Code::kFailed: return "failed";
    case Status::Code::kTimeout: return "timeout";
    case Status::Code::kCancelled: return "cancelled";
    case Status::Code::kInfra: return "infrastructure error";
  }
  return "unknown";
}

Status Status::FromCodeName(const std::string& name, std::string m) {
  for (Code c : {Code::kOk, Code::kInvalidArgument, Code::kNotFound, Code::kFailed, Code::kTimeout,
                 Code::kCancelled, Code::kInfra}) {
    if (name == CodeName(c)) return c == Code::kOk ? Ok() : Status(c, std::move(m));
  }
  return Failed(std::move(m));
}

std::string Status::ToString() const {
  if (ok()) return "ok";
  return std::string(CodeName(code_)) + ": " + message_;
}

Status Status::Prefixed(const std::string& prefix) const {
  if (ok()) return *this;
  return Status(code_, prefix + ": " + message_);
}

}  // namespace harness
