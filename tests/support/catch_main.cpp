#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include <mongoc/mongoc.h>

int main(int argc, char* argv[]) {
  // Silence the driver's default handler, which prints to stdout; tests assert on results instead.
  mongoc_log_set_handler(nullptr, nullptr);
  mongoc_init();
  const int result = Catch::Session().run(argc, argv);
  mongoc_cleanup();
  return result;
}
