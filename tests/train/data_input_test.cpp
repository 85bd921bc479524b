// What the data readers accept and refuse: CSV files as spreadsheets write them (a UTF-8 byte
// order mark, quoted fields across lines), never a misread value (hexadecimal, duplicate
// columns, values too large to standardise), UTF-8 text as characters, and no endless read of
// a directory or a FIFO.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "elman/elman.h"
#include "tests/train/train_test_util.h"

namespace elman {
namespace {

std::string temp_file(const std::string& name, const std::string& content) {
  const std::string path = (std::filesystem::temp_directory_path() /
                            ("elman_data_" + std::to_string(::getpid()) + "_" + name))
                               .string();
  std::ofstream(path, std::ios::binary) << content;
  return path;
}

TEST(CsvInput, ByteOrderMarkIsStripped) {
  const auto c = read_csv_column(temp_file("bom.csv", "\xEF\xBB\xBFv,w\n1,2\n3,4\n"), "v");
  EXPECT_EQ(c.values, (std::vector<double>{1, 3}));
}

TEST(CsvInput, QuotedFieldsMaySpanLines) {
  const auto c = read_csv_column(
      temp_file("nl.csv", "note,v\n\"two\nlines\",1\n\"one, quoted\",2\nx,3\n"), "v");
  EXPECT_EQ(c.values, (std::vector<double>{1, 2, 3}));
  EXPECT_EQ(c.rows, 3);
  EXPECT_ERROR_WITH(read_csv_column(temp_file("open.csv", "a,v\n\"never closed,1\n2,3\n"), "v"),
                    "not closed");
  // A bad value after a multi-line field names the line its record starts on.
  EXPECT_ERROR_WITH(read_csv_column(temp_file("line.csv", "n,v\n\"a\nb\",1\nc,zz\n"), "v"), ":4:");
}

TEST(CsvInput, DuplicateColumnNamesAreRefused) {
  EXPECT_ERROR_WITH(read_csv_column(temp_file("dup.csv", "v,w,v\n1,2,3\n"), "v"),
                    "two columns named 'v' (columns 1 and 3)");
}

TEST(CsvInput, OnlyDecimalNumbersAreValues) {
  for (const char* bad : {"0x1A", "inf", "nan", "1e", ".", "1.2.3", "--1", "1e999"})
    EXPECT_ERROR_WITH(read_csv_column(temp_file("num.csv", std::string("v\n") + bad + "\n"), "v"),
                      "is not a finite decimal number");
  const auto c = read_csv_column(temp_file("ok.csv", "v\n-1.5\n+2\n3.\n.5\n1e3\n2E-1\n"), "v");
  EXPECT_EQ(c.values, (std::vector<double>{-1.5, 2, 3, 0.5, 1000, 0.2}));
}

TEST(CsvInput, MessagesQuoteAtMostEightyCharacters) {
  const std::string longfield(5000, 'x');
  try {
    read_csv_column(temp_file("long.csv", "v\n" + longfield + "\n"), "v");
    ADD_FAILURE() << "accepted";
  } catch (const Error& e) {
    EXPECT_LT(std::string(e.what()).size(), 300u) << e.what();
    EXPECT_NE(std::string(e.what()).find("5000 characters"), std::string::npos) << e.what();
  }
}

TEST(CsvInput, ValuesTooLargeToStandardiseAreAnError) {
  const auto c = read_csv_column(temp_file("big.csv", "v\n1e308\n-1e308\n1e308\n"), "v");
  EXPECT_ERROR_WITH(Normalizer::fit(c.values, 0, 3), "too large to standardise");
}

TEST(TextInput, DirectoriesAndFifosAreRefusedAtOnce) {
  EXPECT_ERROR_WITH(read_text_file(std::filesystem::temp_directory_path().string()), "directory");
  const std::string fifo =
      (std::filesystem::temp_directory_path() / ("elman_fifo_" + std::to_string(::getpid())))
          .string();
  ::unlink(fifo.c_str());
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  EXPECT_ERROR_WITH(read_text_file(fifo), "not a regular file");  // would block forever
  ::unlink(fifo.c_str());
}

TEST(Utf8Vocabulary, CharactersAreCodePoints) {
  const std::string text = "café 日本 cafe\xE2\x80\x99s";  // é, two CJK, a curly apostrophe
  const Vocabulary v = Vocabulary::from_text(text);
  EXPECT_EQ(v.size(), 10);  // ' ', a, c, e, f, s, é, ’, 日, 本
  const std::vector<int> ids = v.encode(text);
  EXPECT_EQ(ids.size(), 14u);  // characters, not bytes (the text has 21 bytes)
  EXPECT_EQ(v.decode(ids), text);
  EXPECT_EQ(v.symbol(v.id(U'日')), "日");
  const Vocabulary back = Vocabulary::from_chars(v.chars());
  EXPECT_EQ(back.encode(text), ids);
  EXPECT_ERROR_WITH(v.encode("cafx"), "'x' (U+0078)");
  EXPECT_ERROR_WITH(v.encode("cafx"), "character 4 of the text");
  EXPECT_ERROR_WITH(Vocabulary::from_text("ok\n\xC3("), "line 2");  // a broken 2-byte sequence
  EXPECT_ERROR_WITH(Vocabulary::from_text("\xC0\xAF"), "byte 0");   // an overlong '/'
  EXPECT_ERROR_WITH(Vocabulary::from_text("\xED\xA0\x80"), "not valid UTF-8");  // a surrogate
  EXPECT_ERROR_WITH(Vocabulary::from_chars("ba"), "code-point order");
  EXPECT_ERROR_WITH(Vocabulary::from_chars("aa"), "twice");
}

}  // namespace
}  // namespace elman
