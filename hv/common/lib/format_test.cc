// SPDX-License-Identifier: Apache-2.0
// Host tests pinning the C99 snprintf behaviour of xhv_vformat/xhv_snprintf.
#include "xhv/format.h"

#include <climits>
#include <cstdarg>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

#include "gtest/gtest.h"
#include "testing/unit/c_test_helpers.h"

namespace {

using xhv_test::FormatToString;
using xhv_test::FormatUnchecked;

// --- Buffer semantics -------------------------------------------------------

TEST(FormatBufferTest, TruncatesAndStillTerminates) {
  char buf[8];
  std::memset(buf, 'X', sizeof(buf));
  xhv_snprintf(buf, 5, "%s", "abcdefgh");
  EXPECT_STREQ(buf, "abcd");
  // Nothing at or beyond buf[size] is touched.
  EXPECT_EQ(std::string(buf + 5, 3), "XXX");
}

TEST(FormatBufferTest, ReturnsFullLengthWhenTruncated) {
  char buf[4];
  EXPECT_EQ(xhv_snprintf(buf, sizeof(buf), "%d-%s", 12345, "xyz"), 9);
  EXPECT_STREQ(buf, "123");
}

TEST(FormatBufferTest, TruncatesInsidePadding) {
  char buf[4];
  EXPECT_EQ(xhv_snprintf(buf, sizeof(buf), "%10d", 7), 10);
  EXPECT_STREQ(buf, "   ");
}

TEST(FormatBufferTest, ExactFitIsNotTruncated) {
  char buf[6];
  EXPECT_EQ(xhv_snprintf(buf, sizeof(buf), "%s!", "abcd"), 5);
  EXPECT_STREQ(buf, "abcd!");
}

TEST(FormatBufferTest, NullBufferWithZeroSizeCountsOnly) {
  EXPECT_EQ(xhv_snprintf(nullptr, 0, "%d-%s", 1234, "ab"), 7);
  EXPECT_EQ(xhv_snprintf(nullptr, 0, "%s", ""), 0);
}

TEST(FormatBufferTest, ZeroSizeWritesNothing) {
  char buf[2] = {'X', 'X'};
  EXPECT_EQ(xhv_snprintf(buf, 0, "abc"), 3);
  EXPECT_EQ(buf[0], 'X');
  EXPECT_EQ(buf[1], 'X');
}

TEST(FormatBufferTest, SizeOneWritesOnlyTheTerminator) {
  char buf[2] = {'X', 'X'};
  EXPECT_EQ(xhv_snprintf(buf, 1, "abc"), 3);
  EXPECT_EQ(buf[0], '\0');
  EXPECT_EQ(buf[1], 'X');
}

// --- Output sink ------------------------------------------------------------

void AppendToString(void *ctx, char c) { static_cast<std::string *>(ctx)->push_back(c); }

int FormatToSink(std::string *out, const char *fmt, ...) XHV_PRINTF(2, 3);
int FormatToSink(std::string *out, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  const int n = xhv_vformat(AppendToString, out, fmt, ap);
  va_end(ap);
  return n;
}

TEST(FormatSinkTest, SendsEveryCharacterToTheSinkAndCountsThem) {
  std::string out;
  EXPECT_EQ(FormatToSink(&out, "[%-4s|%04x]", "ab", 0xbeefU), 11);
  EXPECT_EQ(out, "[ab  |beef]");
}

TEST(FormatSinkTest, LongOutputIsNotLimitedByAnyInternalBuffer) {
  std::string out;
  EXPECT_EQ(FormatToSink(&out, "%300d", -1), 300);
  EXPECT_EQ(out, std::string(298, ' ') + "-1");
}

// --- Integers ---------------------------------------------------------------

TEST(FormatIntegerTest, MinimumSignedValues) {
  EXPECT_EQ(FormatToString("%d", INT_MIN), "-2147483648");
  EXPECT_EQ(FormatToString("%i", INT_MIN), "-2147483648");
  EXPECT_EQ(FormatToString("%lld", LLONG_MIN), "-9223372036854775808");
  EXPECT_EQ(FormatToString("%jd", INTMAX_MIN), "-9223372036854775808");
  EXPECT_EQ(FormatToString("%hhd", static_cast<signed char>(SCHAR_MIN)), "-128");
  EXPECT_EQ(FormatToString("%hd", static_cast<short>(SHRT_MIN)), "-32768");
  EXPECT_EQ(FormatToString("%ld", LONG_MIN), std::to_string(LONG_MIN));
}

TEST(FormatIntegerTest, MaximumUnsignedValues) {
  EXPECT_EQ(FormatToString("%u", UINT_MAX), "4294967295");
  EXPECT_EQ(FormatToString("%llu", ULLONG_MAX), "18446744073709551615");
  EXPECT_EQ(FormatToString("%ju", UINTMAX_MAX), "18446744073709551615");
  EXPECT_EQ(FormatToString("%llx", ULLONG_MAX), "ffffffffffffffff");
  EXPECT_EQ(FormatToString("%llX", ULLONG_MAX), "FFFFFFFFFFFFFFFF");
  EXPECT_EQ(FormatToString("%llo", ULLONG_MAX), "1777777777777777777777");
  EXPECT_EQ(FormatToString("%hhu", static_cast<unsigned char>(UCHAR_MAX)), "255");
  EXPECT_EQ(FormatToString("%hu", static_cast<unsigned short>(USHRT_MAX)), "65535");
}

TEST(FormatIntegerTest, LengthModifiersConvertToTheirType) {
  // The argument is an int; hh/h keep only the low 8/16 bits, as C99 says.
  EXPECT_EQ(FormatUnchecked("%hhd", 0x1ff), "-1");
  EXPECT_EQ(FormatUnchecked("%hhu", 0x1ff), "255");
  EXPECT_EQ(FormatUnchecked("%hu", 0x12345), "9029");
  EXPECT_EQ(FormatUnchecked("%hx", 0x12345), "2345");
  EXPECT_EQ(FormatUnchecked("%hd", 0x18000), "-32768");
}

TEST(FormatIntegerTest, SizeAndPtrdiffModifiers) {
  EXPECT_EQ(FormatToString("%zu", SIZE_MAX), std::to_string(SIZE_MAX));
  EXPECT_EQ(FormatToString("%zx", static_cast<size_t>(0xabcU)), "abc");
  EXPECT_EQ(FormatToString("%td", PTRDIFF_MIN), std::to_string(PTRDIFF_MIN));
  EXPECT_EQ(FormatToString("%td", static_cast<ptrdiff_t>(-5)), "-5");
}

TEST(FormatIntegerTest, ZeroPaddingWithNegativeNumbers) {
  // The sign comes first, then the zeros.
  EXPECT_EQ(FormatToString("%05d", -42), "-0042");
  EXPECT_EQ(FormatToString("%+05d", 42), "+0042");
  EXPECT_EQ(FormatToString("% 05d", 42), " 0042");
  EXPECT_EQ(FormatToString("%012lld", LLONG_MIN), "-9223372036854775808");
  EXPECT_EQ(FormatToString("%#06x", 0x2aU), "0x002a");
}

TEST(FormatIntegerTest, ZeroFlagIsIgnoredWithPrecisionOrLeftAlignment) {
  EXPECT_EQ(FormatUnchecked("%08.3d", -42), "    -042");
  EXPECT_EQ(FormatUnchecked("%-05d|", 42), "42   |");
}

TEST(FormatIntegerTest, PrecisionZeroWithZeroPrintsNothing) {
  EXPECT_EQ(FormatToString("[%.0d]", 0), "[]");
  EXPECT_EQ(FormatToString("[%.d]", 0), "[]");
  EXPECT_EQ(FormatToString("[%5.0d]", 0), "[     ]");
  EXPECT_EQ(FormatToString("[%.0x]", 0U), "[]");
  EXPECT_EQ(FormatToString("[%+.0d]", 0), "[+]");
  EXPECT_EQ(FormatToString("[%#.0x]", 0U), "[]");
  // ...but '#' with %o always yields a leading 0, and non-zero values print.
  EXPECT_EQ(FormatToString("[%#.0o]", 0U), "[0]");
  EXPECT_EQ(FormatToString("[%.0d]", 5), "[5]");
}

TEST(FormatIntegerTest, PrecisionIsTheMinimumNumberOfDigits) {
  EXPECT_EQ(FormatToString("%.5d", -42), "-00042");
  EXPECT_EQ(FormatToString("%8.5x", 0x2aU), "   0002a");
  EXPECT_EQ(FormatToString("%.2d", 12345), "12345");
}

TEST(FormatIntegerTest, PlusAndSpaceFlags) {
  EXPECT_EQ(FormatToString("%+d", 5), "+5");
  EXPECT_EQ(FormatToString("%+d", -5), "-5");
  EXPECT_EQ(FormatToString("% d", 5), " 5");
  EXPECT_EQ(FormatToString("% d", -5), "-5");
  EXPECT_EQ(FormatUnchecked("%+ d", 5), "+5");  // '+' wins over ' '
  EXPECT_EQ(FormatUnchecked("%+u", 5U), "5");    // only for signed conversions
}

TEST(FormatIntegerTest, AlternateForms) {
  EXPECT_EQ(FormatToString("%#x", 255U), "0xff");
  EXPECT_EQ(FormatToString("%#X", 255U), "0XFF");
  EXPECT_EQ(FormatToString("%#x", 0U), "0");  // no 0x for zero
  EXPECT_EQ(FormatToString("%#o", 8U), "010");
  EXPECT_EQ(FormatToString("%#o", 0U), "0");
  EXPECT_EQ(FormatToString("%#.3o", 8U), "010");
  EXPECT_EQ(FormatToString("%#10x", 255U), "      0xff");
  EXPECT_EQ(FormatToString("%-#6x|", 255U), "0xff  |");
}

TEST(FormatIntegerTest, FieldWidthAndLeftAlignment) {
  EXPECT_EQ(FormatToString("%5d", 42), "   42");
  EXPECT_EQ(FormatToString("%-5d|", -42), "-42  |");
  EXPECT_EQ(FormatToString("%1d", 12345), "12345");  // never truncates
  EXPECT_EQ(FormatToString("%5u", 0U), "    0");
}

TEST(FormatIntegerTest, StarWidthAndPrecision) {
  EXPECT_EQ(FormatToString("%*d", 5, 42), "   42");
  EXPECT_EQ(FormatToString("%-*d|", 5, 42), "42   |");
  EXPECT_EQ(FormatToString("%*d|", -5, 42), "42   |");   // negative width: '-'
  EXPECT_EQ(FormatToString("%0*d|", -5, 42), "42   |");  // ...which disables '0'
  EXPECT_EQ(FormatToString("%.*d", 4, 7), "0007");
  EXPECT_EQ(FormatToString("%.*d", -1, 7), "7");  // negative precision: omitted
  EXPECT_EQ(FormatUnchecked("%0.*d", -1, 7), "7");
  EXPECT_EQ(FormatUnchecked("%05.*d", -1, 7), "00007");
  EXPECT_EQ(FormatToString("%*.*s|", 6, 2, "abcdef"), "    ab|");
  EXPECT_EQ(FormatToString("%*.*d|%s", 4, 3, 5, "next"), " 005|next");
}

// --- Characters, strings, pointers ------------------------------------------

TEST(FormatTextTest, CharactersWithWidth) {
  EXPECT_EQ(FormatToString("%c%c", 'o', 'k'), "ok");
  EXPECT_EQ(FormatToString("%3c|%-3c|", 'x', 'y'), "  x|y  |");
  EXPECT_EQ(FormatToString("a%cb", 0), std::string("a\0b", 3));
}

TEST(FormatTextTest, StringsWithWidthAndPrecision) {
  EXPECT_EQ(FormatToString("%5s|", "ab"), "   ab|");
  EXPECT_EQ(FormatToString("%-5s|", "ab"), "ab   |");
  EXPECT_EQ(FormatToString("%.2s", "abcdef"), "ab");
  EXPECT_EQ(FormatToString("%.0s|", "abc"), "|");
  EXPECT_EQ(FormatToString("%2s", "abcdef"), "abcdef");
}

TEST(FormatTextTest, PrecisionBoundsTheStringRead) {
  // Not NUL-terminated: C99 allows this when the precision stops first.
  const char letters[3] = {'x', 'y', 'z'};
  EXPECT_EQ(FormatToString("%.3s", letters), "xyz");
}

TEST(FormatTextTest, NullStringPrintsNull) {
  const char *null_str = nullptr;
  EXPECT_EQ(FormatUnchecked("%s", null_str), "(null)");
  EXPECT_EQ(FormatUnchecked("[%8s]", null_str), "[  (null)]");
}

TEST(FormatTextTest, PointerIsZeroPaddedToPointerWidth) {
  const size_t digits = 2 * sizeof(void *);
  void *p = reinterpret_cast<void *>(static_cast<uintptr_t>(0x1234U));
  EXPECT_EQ(FormatToString("%p", p), "0x" + std::string(digits - 4, '0') + "1234");
  EXPECT_EQ(FormatToString("%p", static_cast<void *>(nullptr)), "0x" + std::string(digits, '0'));
  void *top = reinterpret_cast<void *>(UINTPTR_MAX);
  EXPECT_EQ(FormatToString("%p", top), "0x" + std::string(digits, 'f'));
  // The width still applies around the fixed-size digits.
  EXPECT_EQ(FormatToString("%*p|", static_cast<int>(digits + 4), p),
            "  0x" + std::string(digits - 4, '0') + "1234|");
  EXPECT_EQ(FormatToString("%-*p|", static_cast<int>(digits + 4), p),
            "0x" + std::string(digits - 4, '0') + "1234  |");
}

TEST(FormatTextTest, PercentPercent) {
  EXPECT_EQ(FormatToString("100%%"), "100%");
  EXPECT_EQ(FormatToString("%%d%d", 1), "%d1");
}

// --- Bad formats ------------------------------------------------------------

TEST(FormatBadFormatTest, UnknownConversionIsPrintedLiterally) {
  EXPECT_EQ(FormatUnchecked("%q"), "%q");
  EXPECT_EQ(FormatUnchecked("a%qb"), "a%qb");
  EXPECT_EQ(FormatUnchecked("[%-5q]"), "[%-5q]");
  EXPECT_EQ(FormatUnchecked("%n"), "%n");  // %n is never supported
}

TEST(FormatBadFormatTest, NothingAfterAnUnknownConversionReadsAnArgument) {
  // The %f argument's type is unknown, so "%d" must not consume anything:
  // the rest of the format is printed as it is.
  EXPECT_EQ(FormatUnchecked("%d %f %d %s", 1, 2.0, 3, "x"), "1 %f %d %s");
  EXPECT_EQ(FormatUnchecked("%s:%q:%s", "a", "b"), "a:%q:%s");
}

TEST(FormatBadFormatTest, LengthModifierOnNonIntegerIsUnknown) {
  EXPECT_EQ(FormatUnchecked("%ls|%d", L"wide", 1), "%ls|%d");
  EXPECT_EQ(FormatUnchecked("%lc", 'x'), "%lc");
  EXPECT_EQ(FormatUnchecked("%hp", nullptr), "%hp");
}

TEST(FormatBadFormatTest, IncompleteConversionAtEndIsPrintedLiterally) {
  EXPECT_EQ(FormatUnchecked("abc%"), "abc%");
  EXPECT_EQ(FormatUnchecked("abc%-5"), "abc%-5");
  EXPECT_EQ(FormatUnchecked("abc%ll"), "abc%ll");
  EXPECT_EQ(FormatUnchecked("abc%.*", 3), "abc%.*");
}

// --- Cross-check against the host libc ---------------------------------------

// Every flag combination, several widths and precisions, every integer
// conversion and boundary values: the host libc implements C99 here, so
// any difference is a bug in xhv_vformat.
TEST(FormatLibcOracleTest, IntegerConversionsMatchHostLibc) {
  const char kFlags[] = "-0+ #";
  const char *const kWidths[] = {"", "1", "6", "25"};
  const char *const kPrecisions[] = {"", ".", ".0", ".1", ".5", ".22"};
  const int kInts[] = {0, 1, -1, 42, -42, 0x7f, INT_MIN, INT_MAX};
  const long long kLongLongs[] = {0, -1, 1234567890123LL, LLONG_MIN, LLONG_MAX};
  int checked = 0;

  for (unsigned mask = 0; mask < 32U; mask++) {
    std::string flags;
    for (unsigned bit = 0; bit < 5U; bit++) {
      if (mask & (1U << bit)) flags += kFlags[bit];
    }
    for (const char *width : kWidths) {
      for (const char *prec : kPrecisions) {
        for (const char conv : std::string("diuoxX")) {
          const bool is_signed = conv == 'd' || conv == 'i';
          // C99 leaves '#' undefined for d, i and u.
          if ((mask & 0x10U) && (is_signed || conv == 'u')) continue;
          const std::string spec = "%" + flags + width + prec;
          const std::string fmt = "[" + spec + conv + "]";
          const std::string fmt_ll = "[" + spec + "ll" + conv + "]";
          for (const int v : kInts) {
            if (is_signed) {
              EXPECT_FORMAT_MATCHES_LIBC(fmt.c_str(), v);
            } else {
              EXPECT_FORMAT_MATCHES_LIBC(fmt.c_str(), static_cast<unsigned>(v));
            }
            checked++;
          }
          for (const long long v : kLongLongs) {
            if (is_signed) {
              EXPECT_FORMAT_MATCHES_LIBC(fmt_ll.c_str(), v);
            } else {
              EXPECT_FORMAT_MATCHES_LIBC(fmt_ll.c_str(), static_cast<unsigned long long>(v));
            }
            checked++;
          }
        }
      }
    }
  }
  // Guards the loops themselves against silently checking nothing.
  EXPECT_GT(checked, 20000);
}

TEST(FormatLibcOracleTest, TextConversionsMatchHostLibc) {
  const char *const kSpecs[] = {"%", "%-", "%7", "%-7", "%.0", "%.3", "%10.3", "%-10.3"};
  const char *const kStrings[] = {"", "a", "hello, world"};
  for (const char *spec : kSpecs) {
    const std::string s_fmt = std::string("[") + spec + "s]";
    for (const char *s : kStrings) {
      EXPECT_FORMAT_MATCHES_LIBC(s_fmt.c_str(), s);
    }
    // Precision with %c is undefined in C99; only flags and width here.
    if (std::strchr(spec, '.') == nullptr) {
      const std::string c_fmt = std::string("[") + spec + "c]";
      EXPECT_FORMAT_MATCHES_LIBC(c_fmt.c_str(), 'z');
    }
  }
  EXPECT_FORMAT_MATCHES_LIBC("%s=%d, %c%%%s", "answer", 42, '!', "");
}

}  // namespace
