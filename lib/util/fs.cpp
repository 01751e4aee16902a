#include "util/fs.hpp"

#include <fmt/format.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <sstream>
#include <sys/stat.h>
#include <unistd.h>

namespace m2m {

Status write_file_atomically(const std::string& path, const std::string& content, const std::string& what) {
  const auto slash = path.rfind('/');
  const std::string dir = slash == std::string::npos ? "." : path.substr(0, slash == 0 ? 1 : slash);
  std::string tmpl = (slash == std::string::npos ? std::string("./") : path.substr(0, slash + 1)) + ".mysql2mongo.XXXXXX";
  const int fd = ::mkstemp(tmpl.data());
  auto fail = [&](const char* doing) -> Status {
    return Failure{Exit::config, fmt::format("{} {}: cannot {} in {}: {}; check the directory exists and is writable",
                                             what, path, doing, dir, std::strerror(errno))};
  };
  if (fd < 0) return fail("create a temporary file");
  // Readable by a collector running as another user, like a file created with the usual umask.
  ::fchmod(fd, 0644);
  std::size_t done = 0;
  while (done < content.size()) {
    const ssize_t n = ::write(fd, content.data() + done, content.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const Status st = fail("write");
      ::close(fd);
      ::unlink(tmpl.c_str());
      return st;
    }
    done += static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    const Status st = fail("write");
    ::unlink(tmpl.c_str());
    return st;
  }
  if (::rename(tmpl.c_str(), path.c_str()) != 0) {
    const Status st = fail("rename the temporary file");
    ::unlink(tmpl.c_str());
    return st;
  }
  return success();
}

std::optional<std::string> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace m2m
