// lib/mongo/builder.hpp: BsonBuilder writes the bytes libbson's appenders write, and refuses what they
// refuse.
#include "mongo/builder.hpp"

#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

using m2m::mongo::BsonBuilder;

namespace {

std::vector<std::uint8_t> bytes_of(const bson_t* b) {
  const std::uint8_t* data = bson_get_data(b);
  return {data, data + b->len};
}

}  // namespace

TEST_CASE("BsonBuilder writes every type byte for byte as libbson does", "[mongo][builder]") {
  bson_decimal128_t dec;
  REQUIRE(bson_decimal128_from_string("-123.4500", &dec));
  const std::string text("caf\xc3\xa9 \0 end", 11);
  const std::string blob("\x00\xff\x10", 3);

  bson_t expected = BSON_INITIALIZER;
  bson_append_null(&expected, "n", 1);
  bson_append_bool(&expected, "t", 1, true);
  bson_append_bool(&expected, "f", 1, false);
  bson_append_int32(&expected, "i32", 3, std::numeric_limits<std::int32_t>::min());
  bson_append_int64(&expected, "i64", 3, std::numeric_limits<std::int64_t>::min());
  bson_append_date_time(&expected, "date", 4, -62135596800000);
  bson_append_double(&expected, "nz", 2, -0.0);
  bson_append_double(&expected, "max", 3, std::numeric_limits<double>::max());
  bson_append_decimal128(&expected, "dec", 3, &dec);
  bson_append_utf8(&expected, "s", 1, text.data(), static_cast<int>(text.size()));
  bson_append_utf8(&expected, "empty", 5, "", 0);
  bson_append_binary(&expected, "bin", 3, BSON_SUBTYPE_BINARY, reinterpret_cast<const std::uint8_t*>(blob.data()), 3);
  bson_append_binary(&expected, "nobin", 5, BSON_SUBTYPE_BINARY, nullptr, 0);
  bson_t child, grandchild;
  bson_append_document_begin(&expected, "doc", 3, &child);
  bson_append_int32(&child, "a", 1, 1);
  bson_append_array_begin(&child, "arr", 3, &grandchild);
  bson_append_utf8(&grandchild, "0", 1, "x", 1);
  bson_append_int64(&grandchild, "1", 1, 2);
  bson_append_array_end(&child, &grandchild);
  bson_append_document_end(&expected, &child);
  bson_append_document_begin(&expected, "emptydoc", 8, &child);
  bson_append_document_end(&expected, &child);
  bson_append_int32(&expected, "", 0, 7);  // an empty key is a key

  BsonBuilder b;
  CHECK(b.empty());
  CHECK(b.append_null("n"));
  CHECK(b.append_bool("t", true));
  CHECK(b.append_bool("f", false));
  CHECK(b.append_int32("i32", std::numeric_limits<std::int32_t>::min()));
  CHECK(b.append_int64("i64", std::numeric_limits<std::int64_t>::min()));
  CHECK(b.append_date_time("date", -62135596800000));
  CHECK(b.append_double("nz", -0.0));
  CHECK(b.append_double("max", std::numeric_limits<double>::max()));
  CHECK(b.append_decimal128("dec", dec));
  CHECK(b.append_utf8("s", text));
  CHECK(b.append_utf8("empty", ""));
  CHECK(b.append_binary("bin", blob));
  CHECK(b.append_binary("nobin", ""));
  const std::size_t doc = b.begin_document("doc");
  REQUIRE(doc != 0);
  CHECK(b.append_int32("a", 1));
  const std::size_t arr = b.begin_array("arr");
  REQUIRE(arr != 0);
  char key[16];
  CHECK(b.append_utf8(BsonBuilder::array_key(0, key), "x"));
  CHECK(b.append_int64(BsonBuilder::array_key(1, key), 2));
  CHECK(b.end(arr));
  CHECK(b.end(doc));
  const std::size_t empty_doc = b.begin_document("emptydoc");
  CHECK(b.end(empty_doc));
  CHECK(b.append_int32("", 7));

  const bson_t* view = b.view();
  CHECK(b.size() == expected.len);
  CHECK(bytes_of(view) == bytes_of(&expected));
  CHECK(bson_validate(view, BSON_VALIDATE_NONE, nullptr));
  bson_destroy(&expected);
}

TEST_CASE("BsonBuilder refuses a key with a NUL byte, as libbson does, and changes nothing", "[mongo][builder]") {
  BsonBuilder b;
  REQUIRE(b.append_int32("a", 1));
  const std::size_t before = b.size();
  const std::string bad("x\0y", 3);
  CHECK_FALSE(b.append_int32(bad, 1));
  CHECK_FALSE(b.append_utf8(bad, "v"));
  CHECK_FALSE(b.append_null(bad));
  CHECK(b.begin_document(bad) == 0);
  CHECK(b.size() == before);
  bson_t lib = BSON_INITIALIZER;
  CHECK_FALSE(bson_append_int32(&lib, bad.data(), static_cast<int>(bad.size()), 1));
  bson_destroy(&lib);
}

TEST_CASE("BsonBuilder: a mark and truncate take back what was appended after it", "[mongo][builder]") {
  BsonBuilder b;
  REQUIRE(b.append_int32("keep", 1));
  const std::size_t mark = b.mark();
  const std::size_t doc = b.begin_document("gone");
  REQUIRE(b.append_utf8("x", "half a value"));
  (void)doc;  // left open: a conversion that failed halfway
  b.truncate(mark);
  REQUIRE(b.append_int32("next", 2));
  bson_t expected = BSON_INITIALIZER;
  bson_append_int32(&expected, "keep", 4, 1);
  bson_append_int32(&expected, "next", 4, 2);
  CHECK(bytes_of(b.view()) == bytes_of(&expected));
  bson_destroy(&expected);

  // clear() starts an empty document and keeps going from there.
  b.clear();
  CHECK(b.empty());
  CHECK(b.size() == 5);
  bson_t empty = BSON_INITIALIZER;
  CHECK(bytes_of(b.view()) == bytes_of(&empty));
}

TEST_CASE("BsonBuilder copies elements: a range of its own bytes or a whole libbson document", "[mongo][builder]") {
  BsonBuilder doc;
  REQUIRE(doc.append_int32("a", 1));
  const std::size_t start = doc.mark();
  REQUIRE(doc.append_utf8("k", "key"));
  const std::size_t stop = doc.mark();
  REQUIRE(doc.append_int32("z", 3));

  BsonBuilder selector;
  REQUIRE(selector.append_raw(doc.bytes() + start, stop - start));
  bson_t expected = BSON_INITIALIZER;
  bson_append_utf8(&expected, "k", 1, "key", 3);
  CHECK(bytes_of(selector.view()) == bytes_of(&expected));

  BsonBuilder copy;
  REQUIRE(copy.append_elements_of(&expected));
  bson_t empty = BSON_INITIALIZER;
  REQUIRE(copy.append_elements_of(&empty));
  CHECK(bytes_of(copy.view()) == bytes_of(&expected));

  BsonBuilder nested;
  REQUIRE(nested.append_document("q", &expected));
  bson_t with_child = BSON_INITIALIZER;
  bson_append_document(&with_child, "q", 1, &expected);
  CHECK(bytes_of(nested.view()) == bytes_of(&with_child));
  bson_destroy(&with_child);
  bson_destroy(&expected);
}

TEST_CASE("BsonBuilder grows from its first buffer and keeps the bytes", "[mongo][builder]") {
  BsonBuilder b;
  bson_t expected = BSON_INITIALIZER;
  const std::string big(100000, 'x');
  for (int i = 0; i < 50; ++i) {
    const std::string key = "k" + std::to_string(i);
    REQUIRE(b.append_utf8(key, big.substr(0, static_cast<std::size_t>(i) * 1000)));
    bson_append_utf8(&expected, key.c_str(), -1, big.data(), i * 1000);
  }
  CHECK(bytes_of(b.view()) == bytes_of(&expected));
  bson_destroy(&expected);
}

TEST_CASE("BsonBuilder::array_key spells array indexes as libbson does", "[mongo][builder]") {
  for (std::uint32_t i : {0u, 1u, 9u, 10u, 11u, 99u, 100u, 999u, 1000u, 123456u, 4294967295u}) {
    char ours[16];
    char theirs[16];
    const char* key = nullptr;
    const std::size_t n = bson_uint32_to_string(i, &key, theirs, sizeof theirs);
    CHECK(BsonBuilder::array_key(i, ours) == std::string_view(key, n));
  }
}
