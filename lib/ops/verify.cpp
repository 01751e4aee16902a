#include "ops/verify.hpp"

#include "mongo/client.hpp"
#include "mongo/lease.hpp"
#include "mongo/writer.hpp"
#include "mysql/connection.hpp"
#include "util/text.hpp"

#include <fmt/format.h>

#include <map>
#include <set>
#include <thread>

namespace m2m::ops {

std::size_t VerifyOutcome::count(mongo::VerifyResult r) const {
  return static_cast<std::size_t>(
      std::count_if(tables.begin(), tables.end(), [r](const sync::TableVerify& t) { return t.result() == r; }));
}

Exit VerifyOutcome::exit_code() const {
  if (count(mongo::VerifyResult::failed)) return Exit::tables_failed;
  if (count(mongo::VerifyResult::different)) return Exit::differences;
  return Exit::ok;
}

namespace {

bool stopping(const VerifyOptions& o) { return o.stop && o.stop->requested(); }

StopToken::Registration interruptible(mysql::Connection& conn, StopToken* stop) {
  if (!stop) return {};
  MYSQL* m = conn.handle();
  return stop->on_interrupt([m] { mysql::cancel(m); });
}

}  // namespace

VerifyOutcome run_verify(const config::Config& cfg, const VerifyOptions& options, Logger& log) {
  VerifyOutcome out;
  out.start_ms = now_epoch_ms();
  out.repair = options.repair;
  out.max_keys = static_cast<std::size_t>(cfg.verify.max_keys);

  auto conn = mysql::Connection::open(cfg.mysql, log).or_throw();
  auto cancel_mysql = interruptible(conn, options.stop);
  const auto plans = sync::make_plan(conn, cfg, options.selection, log).or_throw();

  auto pool = mongo::Pool::open(cfg.mongodb, log).or_throw();
  auto client = pool->acquire();
  const std::string& db = cfg.mongo_database();
  // MongoDB unreachable is the whole command's failure (69), found before any table is read.
  const auto version = mongo::server_version(client, pool->where()).or_throw();
  log.debug("MongoDB {} at {}", version, pool->where());

  // Only a repair writes: it holds the run lock, so no sync writes the same documents meanwhile.
  std::unique_ptr<mongo::Lease> lease;
  if (options.repair) {
    mongo::Lease::Options lease_options{db, mongo::lease_owner_id(), cfg.sync.lock_ttl, options.wait};
    lease = mongo::Lease::acquire(*pool, lease_options, log, options.stop).or_throw();
  }
  mongo::MetadataStore meta(client, db, pool->where(), lease ? lease->token() : 0, options.stop);
  // The lease holder owns the store: a run whose lease expired can no longer write its state.
  if (lease) meta.claim().or_throw();
  const mongo::WriteConcern wc(cfg.mongodb.write_concern);

  auto context = [&]() {
    sync::TableContext ctx{conn, client, db, cfg, wc, meta, log, options.force_deletes, options.stop, options.progress};
    return ctx;
  };
  // After a failed table the MySQL connection may be mid-result or gone: the next table gets a fresh one.
  auto reconnect = [&]() {
    if (auto fresh = mysql::Connection::open(cfg.mysql, log)) {
      cancel_mysql.reset();
      conn = std::move(*fresh);
      cancel_mysql = interruptible(conn, options.stop);
    }
  };
  auto report_failure = [&](const sync::TableVerify& t) {
    log.error("table {}: {}", t.table, t.error->message);
    reconnect();
  };

  // 1. One merge per table.
  std::vector<const sync::TablePlan*> plan_of;
  for (const auto& plan : plans) {
    if (stopping(options)) break;
    log.info("table {}: verifying against collection {}{}", plan.table.name, plan.collection,
             plan.has_key() ? "" : " (no key: as multisets of documents)");
    sync::TableVerify t;
    auto ctx = context();
    sync::verify_table(ctx, plan, out.max_keys, t);
    if (t.error && stopping(options)) break;  // a stopped table has no result
    if (t.error) report_failure(t);
    else
      log.info("table {}: {} rows, {} documents: {} missing, {} extra, {} different", plan.table.name, t.mysql_rows,
               t.mongodb_documents, t.found.missing, t.found.extra, t.found.different);
    if (options.table_read) options.table_read(t);
    out.tables.push_back(std::move(t));
    plan_of.push_back(&plan);
  }
  if (stopping(options)) {
    out.end_ms = now_epoch_ms();
    return out;
  }

  // 2. The keys that differ, read again once a sync in flight had time to land its writes.
  std::uint64_t differing = 0;
  for (const auto& t : out.tables)
    if (!t.error) differing += std::min<std::uint64_t>(t.found.differences(), sync::kMaxRecheck);
  if (differing > 0) {
    log.info("{} {} differ{}; reading {} again in {} (verify.settle)", differing, differing == 1 ? "key" : "keys",
             differing == 1 ? "s" : "", differing == 1 ? "it" : "them", format_duration(cfg.verify.settle));
    if (options.stop ? !options.stop->sleep_for(cfg.verify.settle) : (std::this_thread::sleep_for(cfg.verify.settle), false)) {
      out.end_ms = now_epoch_ms();
      return out;
    }
    for (std::size_t i = 0; i < out.tables.size() && !stopping(options); ++i) {
      auto& t = out.tables[i];
      if (t.error || t.found.differences() == 0) continue;
      auto ctx = context();
      sync::recheck(ctx, *plan_of[i], t);
      if (t.error) report_failure(t);
      else if (t.changed_during_verify)
        log.info("table {}: {} changed during verify (equal when read again)", t.table, t.changed_during_verify);
    }
  }

  // 3. The repair.
  if (options.repair) {
    for (std::size_t i = 0; i < out.tables.size() && !stopping(options); ++i) {
      auto& t = out.tables[i];
      if (t.error || t.found.differences() == 0) continue;
      auto ctx = context();
      sync::repair(ctx, *plan_of[i], out.max_keys, t);
      for (const auto& w : t.warnings) log.warn("table {}: {}", t.table, w);
      if (t.error) report_failure(t);
      else
        log.info("table {}: repaired: {} rows copied, {} documents deleted; {} differences left", t.table,
                 t.repaired_copied, t.repaired_deleted, t.after_repair.differences());
    }
  }
  if (stopping(options)) {
    out.end_ms = now_epoch_ms();
    return out;
  }

  // 4. Each table's result, beside its sync record.
  out.end_ms = now_epoch_ms();
  auto states = meta.load_all();
  if (!states) {
    log.error("cannot record the verify results: {}", states.failure().message);
    return out;
  }
  std::set<std::string> recorded;
  for (const auto& s : *states) recorded.insert(s.table_name);
  std::vector<std::pair<std::string, mongo::VerifyRecord>> records;
  for (const auto& t : out.tables) {
    if (recorded.count(t.table)) records.emplace_back(t.table, t.record(out.end_ms));
    else out.unrecorded.push_back(t.table);
  }
  if (!out.unrecorded.empty())
    log.info("not recorded in _sync_metadata (never synced): {}", join(out.unrecorded, ", "));
  if (auto st = meta.save_verify(records); !st) {
    log.error("{}", st.failure().message);
    return out;
  }
  for (auto& s : *states)
    for (const auto& [name, record] : records)
      if (s.table_name == name) s.last_verify = record;
  out.states = std::move(*states);
  return out;
}

std::vector<std::pair<std::string, mongo::VerifyRecord>> last_verifies(const VerifyOutcome* outcome,
                                                                        const std::vector<mongo::TableState>& states) {
  std::map<std::string, mongo::VerifyRecord> by_name;
  for (const auto& s : states)
    if (s.last_verify && !s.dropped) by_name[s.table_name] = *s.last_verify;
  if (outcome)
    for (const auto& t : outcome->tables) by_name[t.table] = t.record(outcome->end_ms);
  return {by_name.begin(), by_name.end()};
}

nlohmann::ordered_json to_json(const VerifyOutcome& o) {
  nlohmann::ordered_json j;
  const auto failed = o.count(mongo::VerifyResult::failed), different = o.count(mongo::VerifyResult::different);
  j["status"] = failed ? "failed" : different ? "different" : "equal";
  j["start_time"] = iso8601_utc(o.start_ms);
  j["end_time"] = iso8601_utc(o.end_ms);
  j["duration_seconds"] = static_cast<double>(o.end_ms - o.start_ms) / 1000.0;
  j["repair"] = o.repair;
  j["tables_count"] = o.tables.size();
  j["equal_tables"] = o.count(mongo::VerifyResult::equal);
  j["different_tables"] = different;
  j["failed_tables"] = failed;
  sync::Counts total;
  std::uint64_t rows = 0, documents = 0, changed = 0;
  for (const auto& t : o.tables) {
    rows += t.mysql_rows;
    documents += t.mongodb_documents;
    changed += t.changed_during_verify;
    total.equal += t.found.equal;
    total.missing += t.found.missing;
    total.extra += t.found.extra;
    total.different += t.found.different;
  }
  j["total"] = {{"mysql_rows", rows},          {"mongodb_documents", documents}, {"equal", total.equal},
                {"missing", total.missing},    {"extra", total.extra},           {"different", total.different},
                {"changed_during_verify", changed}};
  nlohmann::ordered_json tables = nlohmann::ordered_json::object();
  for (const auto& t : o.tables) tables[t.table] = sync::to_json(t, o.max_keys);
  j["tables"] = tables;
  j["unrecorded_tables"] = o.unrecorded;
  return j;
}

}  // namespace m2m::ops
