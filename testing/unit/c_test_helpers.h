// SPDX-License-Identifier: Apache-2.0
// Helpers that let GoogleTest host tests of hypervisor C code read as plain string comparisons.
#ifndef XHV_TESTING_UNIT_C_TEST_HELPERS_H
#define XHV_TESTING_UNIT_C_TEST_HELPERS_H

#include <cstdarg>
#include <cstddef>
#include <cstdio>
#include <string>

#include "gtest/gtest.h"
#include "xhv/compiler.h"
#include "xhv/format.h"

namespace xhv_test {

// Formats with xhv_vsnprintf into an exactly sized buffer followed by guard
// bytes. Records a test failure if the return value disagrees with a
// counting-only call, if the NUL is missing, or if anything past the buffer
// was written. Embedded NULs (from %c) are kept.
inline std::string VFormatToString(const char *fmt, va_list ap) {
  va_list count_ap;
  va_copy(count_ap, ap);
  const int n = xhv_vsnprintf(nullptr, 0, fmt, count_ap);
  va_end(count_ap);
  if (n < 0) {
    ADD_FAILURE() << "xhv_vsnprintf(\"" << fmt << "\") returned " << n;
    return std::string();
  }

  constexpr size_t kGuard = 8;
  constexpr char kGuardByte = '\x5a';
  const size_t len = static_cast<size_t>(n);
  std::string buf(len + 1 + kGuard, kGuardByte);
  const int written = xhv_vsnprintf(&buf[0], len + 1, fmt, ap);
  EXPECT_EQ(written, n) << "format: \"" << fmt << "\"";
  EXPECT_EQ(buf[len], '\0') << "format: \"" << fmt << "\"";
  EXPECT_EQ(buf.substr(len + 1), std::string(kGuard, kGuardByte))
      << "wrote past the buffer; format: \"" << fmt << "\"";
  buf.resize(len);
  return buf;
}

// xhv_snprintf into a std::string; the compiler checks the arguments.
inline std::string FormatToString(const char *fmt, ...) XHV_PRINTF(1, 2);
inline std::string FormatToString(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  std::string s = VFormatToString(fmt, ap);
  va_end(ap);
  return s;
}

// Same, without format checking: for formats a test passes on purpose that
// the compiler would (rightly) warn about, e.g. "%q" or "%-05d".
inline std::string FormatUnchecked(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  std::string s = VFormatToString(fmt, ap);
  va_end(ap);
  return s;
}

// The host libc's vsnprintf, as an oracle for conversions both support.
inline std::string HostFormatToString(const char *fmt, ...) {
  va_list ap, count_ap;
  va_start(ap, fmt);
  va_copy(count_ap, ap);
  const int n = std::vsnprintf(nullptr, 0, fmt, count_ap);
  va_end(count_ap);
  std::string buf(n < 0 ? 0 : static_cast<size_t>(n) + 1, '\0');
  if (n > 0) std::vsnprintf(&buf[0], buf.size(), fmt, ap);
  va_end(ap);
  buf.resize(n < 0 ? 0 : static_cast<size_t>(n));
  return buf;
}

// Expects xhv and the host libc to format the same arguments identically.
#define EXPECT_FORMAT_MATCHES_LIBC(fmt, ...)                                                  \
  EXPECT_EQ(::xhv_test::FormatUnchecked((fmt), __VA_ARGS__),                                  \
            ::xhv_test::HostFormatToString((fmt), __VA_ARGS__))                               \
      << "format: \"" << (fmt) << "\""

}  // namespace xhv_test

#endif  // XHV_TESTING_UNIT_C_TEST_HELPERS_H
