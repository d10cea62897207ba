// Status: the outcome of an operation that can fail in an expected way.
//
// A Status is either ok or carries a Code and a human-readable message. Expected failures
// travel as values (`if (!s.ok()) return s;`); exceptions never cross module boundaries.
// Result<T> holds either a value or a non-ok Status.
//
// Both are [[nodiscard]]: a returned status is acted on (returned, logged, recorded) or,
// where a failure is already reported or verified elsewhere, explicitly IgnoreError()d.
//
// Thread-safety: values; safe to copy and move between threads.
#pragma once

#include <string>
#include <utility>
#include <variant>

namespace harness {

class [[nodiscard]] Status {
 public:
  enum class Code {
    kOk = 0,
    kInvalidArgument,  // bad input from the user or a recipe script (exit 2)
    kNotFound,         // a named thing does not exist (exit 2 when user-named)
    kFailed,           // the recipe failed: a test, convergence, probe (exit 1)
    kTimeout,          // a deadline passed (exit 1 inside a recipe phase)
    kCancelled,        // interrupted by a signal (exit 130/143)
    kInfra,            // docker, the host or the harness itself failed (exit 3)
  };

  Status() = default;
  static Status Ok() { return Status(); }
  static Status InvalidArgument(std::string m) { return Status(Code::kInvalidArgument, std::move(m)); }
  static Status NotFound(std::string m) { return Status(Code::kNotFound, std::move(m)); }
  static Status Failed(std::string m) { return Status(Code::kFailed, std::move(m)); }
  static Status Timeout(std::string m) { return Status(Code::kTimeout, std::move(m)); }
  static Status Cancelled(std::string m) { return Status(Code::kCancelled, std::move(m)); }
  static Status Infra(std::string m) { return Status(Code::kInfra, std::move(m)); }
  // The inverse of CodeName(): a status read back from a report ("ok" → Ok(); an unknown
  // name → Failed).
  static Status FromCodeName(const std::string& name, std::string m);

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }

  // "<code name>: <message>", or "ok".
  std::string ToString() const;
  // Returns a copy whose message is "<prefix>: <message>".
  Status Prefixed(const std::string& prefix) const;
  // Returns a copy with the same code and another message (e.g. redacted).
  Status WithMessage(std::string message) const {
    return ok() ? *this : Status(code_, std::move(message));
  }
  // Says that this status is deliberately not acted on (Status is [[nodiscard]]). Only for
  // a failure already reported or verified elsewhere; the call site says where.
  void IgnoreError() const {}

 private:
  Status(Code c, std::string m) : code_(c), message_(std::move(m)) {}
  Code code_ = Code::kOk;
  std::string message_;
};

const char* CodeName(Status::Code code);

// Either a T or a non-ok Status.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}          // NOLINT(google-explicit-constructor)
  Result(Status status) : v_(std::move(status)) {}   // NOLINT(google-explicit-constructor)

  bool ok() const { return std::holds_alternative<T>(v_); }
  // REQUIRES: ok()
  T& value() { return std::get<T>(v_); }
  const T& value() const { return std::get<T>(v_); }
  T& operator*() { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  // The value, or `fallback` when there is none.
  T value_or(T fallback) const { return ok() ? std::get<T>(v_) : std::move(fallback); }
  // Ok() when a value is held.
  Status status() const { return ok() ? Status::Ok() : std::get<Status>(v_); }
  // As Status::IgnoreError: the result is deliberately not acted on; say why where it is.
  void IgnoreError() const {}

 private:
  std::variant<T, Status> v_;
};

}  // namespace harness
