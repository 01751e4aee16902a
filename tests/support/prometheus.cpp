#include "support/prometheus.hpp"

#include "support/text.hpp"

#include <catch2/catch.hpp>

#include <cstdlib>
#include <regex>

namespace rig {

const std::vector<std::string> kRunMetrics = {
    "mysql2mongo_last_run_timestamp_seconds", "mysql2mongo_last_run_duration_seconds",
    "mysql2mongo_last_run_exit_code", "mysql2mongo_last_success_timestamp_seconds"};
const std::vector<std::string> kTableMetrics = {
    "mysql2mongo_table_rows_synced", "mysql2mongo_table_rows_deleted", "mysql2mongo_table_lossy_values",
    "mysql2mongo_table_last_success_timestamp_seconds", "mysql2mongo_table_up"};

Prometheus parse_prometheus(const std::string& text) {
  static const std::regex help(R"(# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) .*)");
  static const std::regex type(R"(# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped))");
  static const std::regex sample(
      R"re(([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*")re"
      R"re((?:,[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*")*,?)?\})? (\S+)(?: -?[0-9]+)?)re");
  static const std::regex number(R"([-+]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?|[-+]?Inf|NaN)");
  Prometheus p;
  if (text.empty()) {
    p.problems.push_back("empty");
    return p;
  }
  if (text.back() != '\n') p.problems.push_back("does not end with a newline");
  std::set<std::string> helped, closed;
  std::string current;  // the family whose samples are being read
  int n = 0;
  for (const auto& line : lines_of(text)) {
    ++n;
    std::smatch m;
    const std::string where = "line " + std::to_string(n) + " '" + line + "': ";
    if (std::regex_match(line, m, help)) {
      if (!helped.insert(m[1]).second) p.problems.push_back(where + "second HELP");
    } else if (std::regex_match(line, m, type)) {
      if (!p.typed.insert(m[1]).second) p.problems.push_back(where + "second TYPE");
      if (closed.count(m[1]) || current == m[1]) p.problems.push_back(where + "TYPE after the samples");
      p.types[m[1]] = m[2];
    } else if (std::regex_match(line, m, sample)) {
      const std::string name = m[1];
      if (!std::regex_match(m[3].str(), number)) p.problems.push_back(where + "the value is not a number");
      if (!p.typed.count(name)) p.problems.push_back(where + "no TYPE line before it");
      if (name != current) {
        if (closed.count(name)) p.problems.push_back(where + "the family's samples are not contiguous");
        if (!current.empty()) closed.insert(current);
        current = name;
      }
      const std::string series = name + m[2].str();
      if (p.samples.count(series)) p.problems.push_back(where + "series repeated");
      p.samples[series] = std::strtod(m[3].str().c_str(), nullptr);
    } else {
      p.problems.push_back(where + "neither a HELP/TYPE comment nor a sample");
    }
  }
  return p;
}

std::string describe(const Prometheus& p) {
  std::string out;
  for (const auto& s : p.problems) out += s + "\n";
  return out;
}

Prometheus read_metrics(const std::string& path) {
  const std::string text = slurp(path);
  INFO("metrics file " << path << ":\n" << text);
  auto p = parse_prometheus(text);
  INFO("problems:\n" << describe(p));
  REQUIRE(p.ok());
  return p;
}

double value(const Prometheus& p, const std::string& series) {
  const auto v = p.get(series);
  INFO("series " << series);
  REQUIRE(v.has_value());
  return *v;
}

std::string per_table(const std::string& metric, const std::string& label_value) {
  return metric + "{table=\"" + label_value + "\"}";
}

}  // namespace rig
