// What MongoDB would refuse of a document, judged before it is sent; a row's key as text and as messages name it.
#include "convert/convert.hpp"
#include "sync/document.hpp"

#include <catch2/catch.hpp>

using namespace m2m;

namespace {

// {v: [[[ ... 1 ... ]]]} with `levels` levels in all, counting the top-level document.
bson_t* nested(int levels, bool empty_innermost = false) {
  // libbson's own JSON reader stops at 100 levels; the tool's does not.
  std::string json;
  for (int i = 1; i < levels; ++i) json += "[";
  json += empty_innermost ? "" : "1";
  for (int i = 1; i < levels; ++i) json += "]";
  bson_t* b = bson_new();
  if (levels == 1) BSON_APPEND_INT32(b, "v", 1);
  else REQUIRE(convert::append_json(b, "v", json));
  return b;
}

sync::TablePlan json_plan() {
  sync::TablePlan p;
  convert::FieldPlan f;
  f.column = f.field = "v";
  f.kind = convert::Kind::json;
  p.fields.push_back(f);
  return p;
}

}  // namespace

TEST_CASE("nesting depth counts levels as MongoDB does", "[sync][document]") {
  for (int levels : {1, 2, 3, 99, 100, 101, 150}) {
    bson_t* b = nested(levels);
    CHECK(sync::nesting_depth(b) == levels);
    bson_destroy(b);
  }
  // An empty array is no level of its own.
  bson_t* b = nested(101, true);
  CHECK(sync::nesting_depth(b) == 100);
  bson_destroy(b);
}

TEST_CASE("nesting depth walks every value type by its length, and the rare ones by libbson's iterators",
          "[sync][document]") {
  // {s, b, d, dt, n, t, o, x: {a: [1, {}, [], {y: {z: "deep"}}], e: {}}, after}: four levels (x, a, {y}, y's
  // value), the empty document and arrays none; values after the deepest one are still walked.
  const auto* bytes = reinterpret_cast<const uint8_t*>("\x00\x01");
  bson_t* doc = BCON_NEW("s", BCON_UTF8("text"), "b", BCON_BIN(BSON_SUBTYPE_BINARY, bytes, 2),
                         "d", BCON_DOUBLE(1.5), "dt", BCON_DATE_TIME(1), "n", BCON_NULL, "t", BCON_BOOL(true),
                         "i", BCON_INT32(1), "l", BCON_INT64(2), "x", "{", "a", "[", BCON_INT32(1), "{", "}", "[", "]",
                         "{", "y", "{", "z", BCON_UTF8("deep"), "}", "}", "]", "e", "{", "}", "}", "after",
                         BCON_UTF8("x"));
  bson_decimal128_t dec;
  REQUIRE(bson_decimal128_from_string("1.25", &dec));
  BSON_APPEND_DECIMAL128(doc, "dec", &dec);
  bson_oid_t oid;
  bson_oid_init_from_string(&oid, "0123456789abcdef01234567");
  BSON_APPEND_OID(doc, "o", &oid);
  CHECK(sync::nesting_depth(doc) == 5);
  // A type no row converts to: the iterators answer, the same.
  BSON_APPEND_REGEX(doc, "r", "^a", "i");
  CHECK(sync::nesting_depth(doc) == 5);
  bson_destroy(doc);

  // Around the fast walk's own limit of 128 levels, where the iterators take over.
  for (int levels : {127, 128, 129, 130}) {
    bson_t* b = nested(levels);
    CHECK(sync::nesting_depth(b) == levels);
    bson_destroy(b);
  }
}

TEST_CASE("documents MongoDB would refuse are named with the reason, at the limit and one beyond", "[sync][document]") {
  const auto plan = json_plan();
  bson_t* ok = nested(100);
  CHECK(sync::refusal_reason(plan, ok).empty());
  bson_destroy(ok);
  bson_t* deep = nested(101);
  CHECK(sync::refusal_reason(plan, deep) == "document nested 101 levels deep, more than MongoDB's limit of 100");
  bson_destroy(deep);

  // Size: exactly 16 MiB passes, one byte more does not.
  for (const std::size_t total : {sync::kMaxDocumentBytes, sync::kMaxDocumentBytes + 1}) {
    bson_t doc;
    bson_init(&doc);
    // 4 (length) + 1 (type) + 2 ("b\0") + 4 (binary length) + 1 (subtype) + n + 1 (terminator)
    const std::string bytes(total - 13, 'x');
    bson_append_binary(&doc, "b", 1, BSON_SUBTYPE_BINARY, reinterpret_cast<const uint8_t*>(bytes.data()),
                       static_cast<uint32_t>(bytes.size()));
    REQUIRE(doc.len == total);
    const auto why = sync::refusal_reason(plan, &doc);
    if (total == sync::kMaxDocumentBytes) CHECK(why.empty());
    else CHECK(why == "document of 16777217 bytes is larger than MongoDB's limit of 16777216 bytes");
    bson_destroy(&doc);
  }
}

namespace {

sync::TablePlan keyed_plan() {
  sync::TablePlan p;
  for (const char* c : {"v", "region", "id"}) {
    convert::FieldPlan f;
    f.column = f.field = c;
    p.fields.push_back(f);
  }
  p.key = {1, 2};  // (region, id)
  return p;
}

}  // namespace

TEST_CASE("key_text takes the key columns' source text, NULL for SQL NULL, bytes as they are", "[sync][document]") {
  const auto plan = keyed_plan();
  const char v[] = "value";
  const char region[] = {'e', 'u', '\0', 'x'};
  const char id[] = "42";
  char* row[] = {const_cast<char*>(v), const_cast<char*>(region), const_cast<char*>(id)};
  const unsigned long lengths[] = {5, 4, 2};
  CHECK(sync::key_text(plan, row, lengths) == std::vector<std::string>{std::string("eu\0x", 4), "42"});
  char* with_null[] = {const_cast<char*>(v), nullptr, const_cast<char*>(id)};
  const unsigned long null_lengths[] = {5, 0, 2};
  CHECK(sync::key_text(plan, with_null, null_lengths) == std::vector<std::string>{"NULL", "42"});
}

TEST_CASE("describe_key names the key columns and quotes the values, escaped and shortened to one readable line",
          "[sync][document]") {
  const auto plan = keyed_plan();
  CHECK(sync::describe_key(plan, {"eu", "42"}) == "(region, id) = ('eu', '42')");
  // Quotes, control bytes and non-ASCII bytes as \xNN: a message stays one line of plain text.
  CHECK(sync::describe_key(plan, {"it's", std::string("a\nb\0c", 5)}) == "(region, id) = ('it\\x27s', 'a\\x0ab\\x00c')");
  CHECK(sync::describe_key(plan, {"caf\xC3\xA9", "\x7f"}) == "(region, id) = ('caf\\xc3\\xa9', '\\x7f')");
  // Beyond 64 bytes: the first 64 and "...".
  const std::string long_value(100, 'k');
  CHECK(sync::describe_key(plan, {long_value, "1"}) == "(region, id) = ('" + std::string(64, 'k') + "...', '1')");
  CHECK(sync::describe_key(plan, {std::string(64, 'k'), "1"}) == "(region, id) = ('" + std::string(64, 'k') + "', '1')");
}

namespace {

// A table (v, region, id, at) whose key is (id, region), the reverse of their column order, or just id.
sync::TablePlan typed_plan(std::vector<std::size_t> key) {
  sync::TablePlan p;
  const std::pair<const char*, convert::Kind> columns[] = {
      {"v", convert::Kind::string}, {"region", convert::Kind::string}, {"id", convert::Kind::int64},
      {"at", convert::Kind::datetime}};
  for (const auto& [name, kind] : columns) {
    convert::FieldPlan f;
    f.column = f.field = name;
    f.kind = kind;
    p.fields.push_back(f);
  }
  p.key = std::move(key);
  return p;
}

std::string json_of(const bson_t* b) {
  char* s = bson_as_canonical_extended_json(b, nullptr);
  std::string out = s;
  bson_free(s);
  return out;
}

}  // namespace

TEST_CASE("build_document: the selector is the key as append_key writes it, for every key layout",
          "[sync][document]") {
  const char* row_values[] = {"text", "eu", "42", "2024-05-06 07:08:09.123"};
  char* row[4];
  for (int i = 0; i < 4; ++i) row[i] = const_cast<char*>(row_values[i]);
  const unsigned long lengths[] = {4, 2, 2, 23};
  for (const auto& key : std::vector<std::vector<std::size_t>>{{2}, {2, 1}, {1, 2}, {3}}) {
    for (const bool key_as_id : {false, true}) {
      const auto plan = typed_plan(key);
      INFO("key of " << key.size() << " column(s) starting at " << key[0] << ", key_as_id " << key_as_id);
      mongo::BsonBuilder doc, selector;
      convert::LossReport loss;
      REQUIRE(sync::build_document(plan, key_as_id, row, lengths, doc, &selector, loss));
      CHECK(loss.empty());
      bson_t expected = BSON_INITIALIZER;
      convert::LossReport ignored;
      sync::append_key(plan, &expected, row, lengths, ignored, key_as_id);
      CHECK(json_of(selector.view()) == json_of(&expected));
      bson_destroy(&expected);
      // The document: the _id first with key_as_id, then every column in column order.
      const std::string body = json_of(doc.view());
      CHECK(body.find(R"("v" : "text", "region" : "eu", "id" : { "$numberLong" : "42" }, "at" : { "$date" :)") !=
            std::string::npos);
      CHECK((body.rfind(R"({ "_id" : )", 0) == 0) == key_as_id);
    }
  }
}

TEST_CASE("build_document refuses a key that converted lossily, and counts the loss once per value written",
          "[sync][document]") {
  const char* row_values[] = {"text", "eu", "42", "2024-05-06 07:08:09.123456"};
  char* row[4];
  for (int i = 0; i < 4; ++i) row[i] = const_cast<char*>(row_values[i]);
  const unsigned long lengths[] = {4, 2, 2, 26};
  mongo::BsonBuilder doc, selector;
  {
    convert::LossReport loss;  // the lossy column is not in the key: written, counted once
    CHECK(sync::build_document(typed_plan({2}), false, row, lengths, doc, &selector, loss));
    CHECK(loss.total() == 1);
  }
  {
    convert::LossReport loss;  // the lossy column is the key: refused
    CHECK_FALSE(sync::build_document(typed_plan({3}), false, row, lengths, doc, &selector, loss));
    CHECK(loss.total() == 1);
  }
  {
    convert::LossReport loss;  // as _id too: counted for the _id and for the field
    CHECK_FALSE(sync::build_document(typed_plan({2, 3}), true, row, lengths, doc, &selector, loss));
    CHECK(loss.total() == 2);
  }
  {
    convert::LossReport loss;  // no selector asked for (a table copied without a key): nothing to refuse
    CHECK(sync::build_document(typed_plan({}), false, row, lengths, doc, nullptr, loss));
    CHECK(loss.total() == 1);
  }
}

TEST_CASE("build_document: a key of more columns than it tracks is converted again, with the same result",
          "[sync][document]") {
  sync::TablePlan plan;
  std::vector<std::string> values;
  for (int i = 0; i < 20; ++i) {
    convert::FieldPlan f;
    f.column = f.field = "c" + std::to_string(i);
    f.kind = convert::Kind::int32;
    plan.fields.push_back(f);
    values.push_back(std::to_string(i * 7));
  }
  for (std::size_t i = 20; i-- > 2;) plan.key.push_back(i);  // 18 columns, in reverse
  std::vector<char*> row;
  std::vector<unsigned long> lengths;
  for (auto& v : values) {
    row.push_back(v.data());
    lengths.push_back(v.size());
  }
  mongo::BsonBuilder doc, selector;
  convert::LossReport loss;
  REQUIRE(sync::build_document(plan, false, row.data(), lengths.data(), doc, &selector, loss));
  bson_t expected = BSON_INITIALIZER;
  sync::append_key(plan, &expected, row.data(), lengths.data(), loss, false);
  CHECK(json_of(selector.view()) == json_of(&expected));
  CHECK(loss.empty());
  bson_destroy(&expected);
}
