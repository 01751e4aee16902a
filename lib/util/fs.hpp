// Files written so readers never see half of them.
#pragma once

#include "util/error.hpp"

#include <optional>
#include <string>

namespace m2m {

// Writes a temporary file in the same directory, fsyncs it, and renames it over `path`: a reader (such as
// node-exporter's textfile collector) sees the old content or the new, never a mix. Exit::config when
// the directory is not writable.
Status write_file_atomically(const std::string& path, const std::string& content, const std::string& what);

// The whole file, or nullopt if it cannot be read.
std::optional<std::string> read_file(const std::string& path);

}  // namespace m2m
