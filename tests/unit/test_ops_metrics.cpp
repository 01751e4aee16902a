// lib/ops/metrics: the Prometheus text file of `sync --metrics-file`, rendered from a run's figures and
// _sync_metadata, checked with the strict reader the integration tests use (tests/support/prometheus.hpp).
#include "support/prometheus.hpp"

#include <catch2/catch.hpp>

#include <string>

using rig::describe;
using rig::parse_prometheus;

// The reader itself first: the tests below and tests/integration/test_sync_metrics.cpp rely on it to
// reject what node-exporter would.
TEST_CASE("the test's Prometheus text check accepts the format and rejects partial or malformed text",
          "[ops][metrics]") {
  const std::string good =
      "# HELP a_total Things.\n# TYPE a_total counter\na_total 3\n"
      "# HELP b Per table.\n# TYPE b gauge\nb{table=\"x\"} 1.5\nb{table=\"we\\\"ird\\\\x\",k=\"v\"} -2e3\n"
      "b{table=\"y\"} NaN 1700000000000\n";
  const auto p = parse_prometheus(good);
  INFO(describe(p));
  CHECK(p.ok());
  CHECK(p.get("a_total") == 3.0);
  CHECK(p.get(R"(b{table="we\"ird\\x",k="v"})") == -2000.0);
  for (const std::string& bad : {
           std::string(""),                                          // empty
           good.substr(0, good.size() - 1),                          // no final newline
           good.substr(0, good.find("1.5")),                         // cut in the middle of a sample
           std::string("# TYPE a gauge\na\n"),                     // no value
           std::string("# TYPE a gauge\na one\n"),                 // not a number
           std::string("# TYPE a gauge\na{table=x} 1\n"),          // unquoted label value
           std::string("# TYPE a gauge\na{table=\"x\\y\"} 1\n"),  // bad escape
           std::string("a 1\n"),                                    // no TYPE
           std::string("# TYPE a gauge\n\na 1\n"),                // empty line (allowed by the format; not here)
           std::string("# TYPE a gauge\n# TYPE b gauge\na 1\nb 1\na 2\n"),  // family split
           std::string("# TYPE a gauge\na 1\na 1\n"),             // series twice
           std::string("# comment\n# TYPE a gauge\na 1\n"),       // a free comment (likewise)
       }) {
    INFO("text: " << bad);
    CHECK_FALSE(parse_prometheus(bad).ok());
  }
}
