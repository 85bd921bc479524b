// The safetensors reader against hand-made and hostile files: every dtype it decodes, each
// malformed header with its message, truncation at every byte, and single-bit flips.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "elman/error.h"
#include "host/safetensors_format.h"
#include "tests/io/safetensors_test_util.h"

namespace elman::test {
namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();

TEST(SafetensorsRead, HandWrittenFileWithMetadata) {
  const std::string header =
      R"({"__metadata__":{"format":"pt","epoch":"7"},)"
      R"("b":{"dtype":"F32","shape":[2],"data_offsets":[16,24]},)"
      R"("w":{"shape":[2,2],"data_offsets":[0,16],"dtype":"F32"}}    )";  // padded, reordered
  const std::string data = f32_bytes({1, 2, 3, 4}) + f32_bytes({-0.5f, 8});
  std::map<std::string, std::string> metadata;
  const TensorMap t = parse(image(header, data), "hand", &metadata);
  ASSERT_EQ(t.size(), 2u);
  EXPECT_EQ(t.at("w").shape, (Shape{2, 2}));
  EXPECT_EQ(t.at("w").values, (std::vector<float>{1, 2, 3, 4}));
  EXPECT_EQ(t.at("b").shape, (Shape{2}));
  EXPECT_EQ(t.at("b").values, (std::vector<float>{-0.5f, 8}));
  EXPECT_EQ(metadata, (std::map<std::string, std::string>{{"format", "pt"}, {"epoch", "7"}}));
}

TEST(SafetensorsRead, EmptyHeaderAndZeroSizedTensors) {
  EXPECT_TRUE(parse(image("{}")).empty());
  EXPECT_TRUE(parse(image("{}      ")).empty());
  const std::string header = R"({"a":{"dtype":"F32","shape":[0],"data_offsets":[0,0]},)"
                             R"("s":{"dtype":"F32","shape":[],"data_offsets":[0,4]},)"
                             R"("z":{"dtype":"F16","shape":[2,0],"data_offsets":[4,4]}})";
  const TensorMap t = parse(image(header, f32_bytes({2.5f})));
  EXPECT_EQ(t.at("a").shape, (Shape{0}));
  EXPECT_TRUE(t.at("a").values.empty());
  EXPECT_EQ(t.at("s").shape, Shape{});
  EXPECT_EQ(t.at("s").values, std::vector<float>{2.5f});
  EXPECT_EQ(t.at("z").shape, (Shape{2, 0}));
  EXPECT_TRUE(t.at("z").values.empty());
}

TEST(SafetensorsRead, UnknownFieldsAreIgnoredEvenDeeplyNested) {
  // The reference implementation ignores unknown fields; so do we, without recursion: 200000
  // levels of nesting would overflow a recursive parser's stack.
  const std::string deep = std::string(200000, '[') + std::string(200000, ']');
  const std::string header = R"({"a":{"note":)" + deep +
                             R"(,"dtype":"F32","shape":[1],"x":{"y":null},"data_offsets":[0,4]}})";
  const TensorMap t = parse(image(header, f32_bytes({3})));
  EXPECT_EQ(t.at("a").values, std::vector<float>{3});
}

TEST(SafetensorsRead, DecodesF16) {
  // Hand-made binary16 patterns and their exact float values.
  const std::vector<std::pair<uint16_t, float>> cases = {
      {0x3C00, 1.0f},
      {0xC000, -2.0f},
      {0x3555, 0.333251953125f},
      {0x7BFF, 65504.0f},
      {0x0400, 6.103515625e-05f},
      {0x0001, 5.9604644775390625e-08f},
      {0x83FF, -6.097555160522461e-05f},  // largest negative subnormal
      {0x0000, 0.0f},
      {0x7C00, kInf},
      {0xFC00, -kInf}};
  std::string data;
  for (const auto& c : cases) data += std::string{char(c.first & 0xff), char(c.first >> 8)};
  data += std::string{'\x00', '\x80', '\x00', '\x7e'};  // -0 and a quiet NaN
  const size_t n = cases.size() + 2;
  const std::string header = R"({"h":{"dtype":"F16","shape":[)" + std::to_string(n) +
                             R"(],"data_offsets":[0,)" + std::to_string(2 * n) + "]}}";
  const std::vector<float> v = parse(image(header, data)).at("h").values;
  ASSERT_EQ(v.size(), n);
  for (size_t i = 0; i < cases.size(); ++i)
    EXPECT_EQ(v[i], cases[i].second) << "F16 0x" << std::hex << cases[i].first;
  EXPECT_EQ(v[n - 2], 0.0f);
  EXPECT_TRUE(std::signbit(v[n - 2]));
  EXPECT_TRUE(std::isnan(v[n - 1]));
}

TEST(SafetensorsRead, DecodesBF16) {
  // bfloat16 is the top half of a float32: 0x3F80 = 1, 0xC0A0 = -5, 0x4049 = 3.140625.
  const std::string data = {'\x80', '\x3f', '\xa0', '\xc0', '\x49', '\x40', '\x80', '\x7f'};
  const std::string header = R"({"b":{"dtype":"BF16","shape":[2,2],"data_offsets":[0,8]}})";
  const NamedArray b = parse(image(header, data)).at("b");
  EXPECT_EQ(b.shape, (Shape{2, 2}));
  EXPECT_EQ(b.values, (std::vector<float>{1.0f, -5.0f, 3.140625f, kInf}));
}

TEST(SafetensorsRead, DecodesF64) {
  // Little-endian binary64 bytes written out by hand: 1.5 = 0x3FF8000000000000,
  // -0.25 = 0xBFD0000000000000, 0.1 = 0x3FB999999999999A (rounds to float(0.1)).
  const std::string data =
      std::string{0, 0, 0, 0, 0, 0, '\xf8', '\x3f'} +
      std::string{0, 0, 0, 0, 0, 0, '\xd0', '\xbf'} +
      std::string{'\x9a', '\x99', '\x99', '\x99', '\x99', '\x99', '\xb9', '\x3f'};
  const std::string header = R"({"d":{"dtype":"F64","shape":[3],"data_offsets":[0,24]}})";
  EXPECT_EQ(parse(image(header, data)).at("d").values, (std::vector<float>{1.5f, -0.25f, 0.1f}));
}

TEST(SafetensorsRead, HalfConversionMatchesFloatOnEveryPattern) {
  // Every finite binary16 value is exactly representable in float: converting back by
  // rounding (ldexp on the decoded parts) must give the same bits. Checks all 65536 patterns.
  for (uint32_t h = 0; h < 65536; ++h) {
    const float f = detail::half_to_float(static_cast<uint16_t>(h));
    const uint32_t exponent = (h >> 10) & 0x1f, mantissa = h & 0x3ff;
    if (exponent == 0x1f) {
      EXPECT_TRUE(mantissa ? std::isnan(f) : std::isinf(f)) << h;
      continue;
    }
    const double magnitude =
        exponent == 0 ? std::ldexp(mantissa, -24) : std::ldexp(1024 + mantissa, int(exponent) - 25);
    EXPECT_EQ(f, (h & 0x8000) ? -magnitude : magnitude) << h;
  }
}

// One malformed file and a fragment its error message must contain.
struct BadCase {
  const char* name;
  std::string header;
  std::string data;
  const char* fragment;
};

const std::string kF32One = R"("dtype":"F32","shape":[1],"data_offsets":[0,4])";

std::vector<BadCase> bad_cases() {
  const std::string d4 = f32_bytes({1});
  return {
      {"truncated-json", R"({"a":)", "", "not valid JSON"},
      {"empty-header", "", "", "not valid JSON"},
      {"trailing-garbage", "{} x", "", "not valid JSON"},
      {"comment", "/* c */ {}", "", "not valid JSON"},
      {"invalid-utf8-name", "{\"\xff\":{" + kF32One + "}}", d4, "not valid JSON"},
      {"control-in-string", "{\"a\x01\":{}}", "", "not valid JSON"},
      {"top-array", "[1, 2]", "", "the header is an array, expected a JSON object"},
      {"top-string", R"("x")", "", "the header is a string, expected a JSON object"},
      {"entry-number", R"({"a":5})", "", "entry 'a' is a number, expected an object"},
      {"entry-array", R"({"a":[1]})", "", "entry 'a' is an array"},
      {"entry-null", R"({"a":null})", "", "entry 'a' is null"},
      {"no-dtype", R"({"a":{"shape":[1],"data_offsets":[0,4]}})", d4, "has no \"dtype\""},
      {"no-shape", R"({"a":{"dtype":"F32","data_offsets":[0,4]}})", d4, "has no \"shape\""},
      {"no-offsets", R"({"a":{"dtype":"F32","shape":[1]}})", d4, "has no \"data_offsets\""},
      {"dtype-number", R"({"a":{"dtype":32,"shape":[1],"data_offsets":[0,4]}})", d4,
       "dtype of tensor 'a' is a number, expected a string"},
      {"shape-string", R"({"a":{"dtype":"F32","shape":"1","data_offsets":[0,4]}})", d4,
       "shape of tensor 'a' is a string"},
      {"offsets-object", R"({"a":{"dtype":"F32","shape":[1],"data_offsets":{}}})", d4,
       "data_offsets of tensor 'a' is an object"},
      {"unknown-dtype", R"({"a":{"dtype":"F31","shape":[1],"data_offsets":[0,4]}})", d4,
       "unknown dtype 'F31'"},
      {"unsupported-dtype", R"({"a":{"dtype":"I32","shape":[1],"data_offsets":[0,4]}})", d4,
       "dtype I32, which elman does not read"},
      {"negative-dim", R"({"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}})", d4,
       "shape of tensor 'a' holds the negative number -1"},
      {"fractional-dim", R"({"a":{"dtype":"F32","shape":[1.5],"data_offsets":[0,4]}})", d4,
       "holds '1.5', not a non-negative integer"},
      {"exponent-dim", R"({"a":{"dtype":"F32","shape":[1e0],"data_offsets":[0,4]}})", d4,
       "not a non-negative integer"},
      {"nested-shape", R"({"a":{"dtype":"F32","shape":[[1]],"data_offsets":[0,4]}})", d4,
       "shape of tensor 'a' holds an array"},
      {"bool-dim", R"({"a":{"dtype":"F32","shape":[true],"data_offsets":[0,4]}})", d4,
       "holds a boolean"},
      {"huge-dim", R"({"a":{"dtype":"F32","shape":[9223372036854775808],"data_offsets":[0,4]}})",
       d4, "larger than 2^63 - 1"},
      {"beyond-u64-dim",
       R"({"a":{"dtype":"F32","shape":[18446744073709551616],"data_offsets":[0,4]}})", d4,
       "not a non-negative integer"},
      {"numel-overflow",
       R"({"a":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,4]}})", d4,
       "element count overflows 64 bits"},
      {"bytes-overflow",
       R"({"a":{"dtype":"F32","shape":[4611686018427387904],"data_offsets":[0,4]}})", d4,
       "byte size overflows 64 bits"},
      {"size-mismatch", R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}})", d4,
       "needs 8 bytes, but data_offsets [0, 4] hold 4"},
      {"dtype-size-mismatch", R"({"a":{"dtype":"F64","shape":[1],"data_offsets":[0,4]}})", d4,
       "which needs 8 bytes"},
      {"three-offsets", R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4,8]}})", d4,
       "data_offsets of tensor 'a' has 3 numbers, expected 2"},
      {"one-offset", R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[4]}})", d4,
       "has 1 numbers, expected 2"},
      {"negative-offset", R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[-4,0]}})", d4,
       "holds the negative number -4"},
      {"reversed-offsets", R"({"a":{"dtype":"F32","shape":[0],"data_offsets":[4,0]}})", d4,
       "whose end precedes the begin"},
      {"outside", R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", d4,
       "outside the data section of 4 bytes"},
      {"far-outside",
       R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[18446744073709551612,18446744073709551615]}})",
       d4, "outside the data section"},
      {"overlap",
       R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
       R"("b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
       f32_bytes({1, 2, 3}), "tensors 'a' and 'b' overlap"},
      {"same-range",
       R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
       R"("b":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})",
       d4, "overlap"},
      {"hole",
       R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
       R"("b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}})",
       f32_bytes({1, 2, 3}), "bytes [4, 8) of the data section belong to no tensor"},
      {"trailing-bytes", R"({"a":)" + std::string("{") + kF32One + "}}", f32_bytes({1, 2}),
       "the data section has 8 bytes but the tensors cover 4"},
      {"duplicate-name", R"({"a":{)" + kF32One + R"(},"a":{)" + kF32One + "}}", d4,
       "the name 'a' appears twice"},
      {"duplicate-field", R"({"a":{"dtype":"F32",)" + kF32One + "}}", d4,
       "tensor 'a' has \"dtype\" twice"},
      {"metadata-number", R"({"__metadata__":3})", "", "\"__metadata__\" is a number"},
      {"metadata-value", R"({"__metadata__":{"k":1}})", "",
       "metadata value of key 'k' is a number, expected a string"},
      {"metadata-nested", R"({"__metadata__":{"k":{"x":"y"}}})", "",
       "metadata value of key 'k' is an object"},
      {"metadata-duplicate-key", R"({"__metadata__":{"k":"1","k":"2"}})", "",
       "metadata key 'k' appears twice"},
      {"metadata-twice", R"({"__metadata__":{},"__metadata__":{}})", "",
       "the name '__metadata__' appears twice"},
      {"hostile-name", "{\"\\u0001\\n" + std::string(300, 'x') + "\":3}", "",
       "entry '\\x01\\x0axxxx"},
  };
}

TEST(SafetensorsRead, RejectsEachMalformedHeaderWithItsReason) {
  for (const BadCase& c : bad_cases()) {
    const std::string message = error_of([&] { parse(image(c.header, c.data), c.name); });
    EXPECT_CONTAINS(message, std::string("parse_safetensors: ") + c.name + ": ") << c.name;
    EXPECT_CONTAINS(message, c.fragment) << c.name;
    EXPECT_LT(message.size(), 600u) << c.name << ": messages stay short: " << message;
    for (char ch : message)
      EXPECT_TRUE(ch >= 0x20 && ch < 0x7f) << c.name << ": unprintable byte in " << message;
  }
}

TEST(SafetensorsRead, RejectsBadHeaderLengths) {
  EXPECT_CONTAINS(error_of([] { parse(""); }), "0 bytes, fewer than the 8 bytes");
  EXPECT_CONTAINS(error_of([] { parse(std::string(7, '\0')); }), "7 bytes, fewer than");
  // A length just above the bound, and the largest possible one: rejected before any allocation.
  std::string big = image("{}");
  const uint64_t above = kSafetensorsMaxHeaderBytes + 1;
  for (int i = 0; i < 8; ++i) big[i] = static_cast<char>((above >> (8 * i)) & 0xff);
  EXPECT_CONTAINS(error_of([&] { parse(big); }), "more than the bound of 100000000");
  std::string max = image("{}");
  for (int i = 0; i < 8; ++i) max[i] = '\xff';
  EXPECT_CONTAINS(error_of([&] { parse(max); }), "more than the bound");
  // Within the bound but past the end of the file.
  std::string past = image("{}");
  past[0] = 3;
  past[1] = 1;  // 259 bytes claimed, 2 present
  EXPECT_CONTAINS(error_of([&] { parse(past); }),
                  "says 259 bytes but only 2 follow it (truncated?)");
}

TEST(SafetensorsRead, EveryTruncationIsRejected) {
  TensorMap tensors = sample_tensors();
  const std::string full = detail::encode_safetensors(tensors, {{"step", "12"}});
  expect_bit_equal(tensors, parse(full));
  for (size_t n = 0; n < full.size(); ++n) {
    const std::string message = error_of([&] { parse(full.substr(0, n), "cut"); });
    EXPECT_CONTAINS(message, "parse_safetensors: cut: ") << "cut at " << n;
  }
}

TEST(SafetensorsRead, EveryTruncatedFileIsRejectedByLoad) {
  ScratchDir dir;
  const std::string full = detail::encode_safetensors(sample_tensors());
  const std::string path = dir.file("cut.safetensors");
  for (size_t n = 0; n < full.size(); ++n) {
    write_file(path, full.substr(0, n));
    std::map<std::string, std::string> metadata = {{"untouched", "yes"}};
    const std::string message = error_of([&] { load_safetensors(path, &metadata); });
    EXPECT_CONTAINS(message, "load_safetensors: '" + path + "': ") << "cut at " << n;
    EXPECT_EQ(metadata.size(), 1u) << "a failed load must not touch the metadata";
  }
  write_file(path, full);
  expect_bit_equal(sample_tensors(), load_safetensors(path));
}

TEST(SafetensorsRead, SingleBitFlipsInTheHeaderNeverCrash) {
  // Each flip is either rejected with an elman::Error or yields a self-consistent result (a
  // flipped letter in a name, say). Run under ASan/UBSan, this also proves no bad access.
  const std::map<std::string, std::string> metadata = {{"format", "pt"}};
  const std::string full = detail::encode_safetensors(sample_tensors(), metadata);
  const size_t header_end = 8 + static_cast<size_t>(static_cast<unsigned char>(full[0]));
  ASSERT_LT(header_end, full.size());
  int rejected = 0, accepted = 0;
  for (size_t byte = 0; byte < header_end; ++byte) {
    for (int bit = 0; bit < 8; ++bit) {
      std::string flipped = full;
      flipped[byte] = static_cast<char>(flipped[byte] ^ (1 << bit));
      try {
        const TensorMap t = parse(flipped, "flip");
        ++accepted;
        for (const auto& [name, array] : t) {
          int64_t numel = 1;
          for (int64_t d : array.shape) {
            ASSERT_GE(d, 0) << name;
            numel *= d;
          }
          ASSERT_EQ(array.values.size(), static_cast<size_t>(numel)) << name;
        }
      } catch (const Error& e) {
        ++rejected;
        EXPECT_CONTAINS(std::string(e.what()), "parse_safetensors: flip: ");
      }
    }
  }
  EXPECT_GT(rejected, 0);
  std::cout << "bit flips: " << rejected << " rejected, " << accepted << " accepted\n";
}

TEST(SafetensorsRead, LoadNamesTheFileAndTheSystemError) {
  ScratchDir dir;
  const std::string missing = dir.file("missing.safetensors");
  const std::string m = error_of([&] { load_safetensors(missing); });
  EXPECT_CONTAINS(m, "load_safetensors: '" + missing + "': cannot open");
  EXPECT_CONTAINS(m, "No such file or directory");
  EXPECT_CONTAINS(error_of([&] { load_safetensors(dir.path()); }), "not a regular file");
}

}  // namespace
}  // namespace elman::test
