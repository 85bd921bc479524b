// Strict UTF-8 decoding and encoding (host/train/utf8.h).
#include "host/train/utf8.h"

#include <cstdio>

#include "elman/error.h"

namespace elman::detail {

std::u32string utf8_decode(const std::string& text, const std::string& what) {
  std::u32string out;
  out.reserve(text.size());
  size_t line = 1;
  for (size_t i = 0; i < text.size();) {
    const auto byte = [&](size_t k) { return static_cast<unsigned char>(text[k]); };
    const unsigned char b0 = byte(i);
    int extra = 0;
    char32_t c = 0, least = 0;
    if (b0 < 0x80) {
      c = b0;
    } else if ((b0 & 0xE0) == 0xC0) {
      extra = 1, c = b0 & 0x1F, least = 0x80;
    } else if ((b0 & 0xF0) == 0xE0) {
      extra = 2, c = b0 & 0x0F, least = 0x800;
    } else if ((b0 & 0xF8) == 0xF0) {
      extra = 3, c = b0 & 0x07, least = 0x10000;
    } else {
      extra = -1;
    }
    bool ok = extra >= 0 && i + static_cast<size_t>(extra) < text.size();  // all bytes present
    for (int k = 1; ok && k <= extra; ++k) {
      const unsigned char b = byte(i + static_cast<size_t>(k));
      if ((b & 0xC0) != 0x80) ok = false;
      c = (c << 6) | (b & 0x3F);
    }
    if (ok && extra > 0 && (c < least || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))) ok = false;
    if (!ok) {
      char hex[8];
      std::snprintf(hex, sizeof hex, "0x%02X", b0);
      throw Error(what + ": byte " + std::to_string(i) + " (line " + std::to_string(line) +
                  ", value " + hex +
                  ") is not valid UTF-8; elman reads text as UTF-8 (convert "
                  "the file, e.g. iconv -f latin1 -t utf-8)");
    }
    if (c == U'\n') ++line;
    out.push_back(c);
    i += static_cast<size_t>(extra) + 1;
  }
  return out;
}

void utf8_append(char32_t c, std::string& out) {
  if (c < 0x80) {
    out += static_cast<char>(c);
  } else if (c < 0x800) {
    out += static_cast<char>(0xC0 | (c >> 6));
    out += static_cast<char>(0x80 | (c & 0x3F));
  } else if (c < 0x10000) {
    out += static_cast<char>(0xE0 | (c >> 12));
    out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (c & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (c >> 18));
    out += static_cast<char>(0x80 | ((c >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (c & 0x3F));
  }
}

std::string describe_code_point(char32_t c) {
  char code[16];
  std::snprintf(code, sizeof code, "U+%04X", static_cast<unsigned>(c));
  if (c < 0x20 || c == 0x7F || (c >= 0x80 && c < 0xA0)) {
    const char* name = c == U'\n' ? "'\\n' " : c == U'\t' ? "'\\t' " : c == U'\r' ? "'\\r' " : "";
    return std::string(name) + "(" + code + ")";
  }
  std::string s = "'";
  utf8_append(c, s);
  return s + "' (" + code + ")";
}

}  // namespace elman::detail
