// UTF-8 for character-level data: decoding a text into Unicode code points (strictly: overlong
// forms, surrogates and values above U+10FFFF are errors) and encoding code points back.
#pragma once

#include <string>
#include <vector>

namespace elman::detail {

// The code points of `text`. Throws elman::Error naming `what`, the byte offset and the line of
// the first byte that is not valid UTF-8.
std::u32string utf8_decode(const std::string& text, const std::string& what);

// Appends the UTF-8 form of code point `c` (a valid scalar value) to `out`.
void utf8_append(char32_t c, std::string& out);

// How a code point reads in a message: the character itself when printable, "U+XXXX" otherwise
// ("'é'", "'\n' (U+000A)").
std::string describe_code_point(char32_t c);

}  // namespace elman::detail
