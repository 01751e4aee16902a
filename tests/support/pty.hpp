// The binary on a pseudo-terminal (through util-linux script(1)), for what it shows only on a terminal:
// the progress display.
#pragma once

#include <chrono>
#include <map>
#include <string>
#include <vector>

namespace rig {

struct PtyResult {
  int code = -1;
  std::string output;  // stdout and stderr as the terminal saw them (\n arrives as \r\n)
};

// Whether /usr/bin/script is there to provide a terminal (tests skip with a warning otherwise).
bool have_script();

// Runs `mysql2mongo args...` with stdout and stderr on a pseudo-terminal: script -qec CMD /dev/null,
// stdin /dev/null. The environment goes to script, which hands it to the command.
PtyResult run_in_pty(const std::vector<std::string>& args, std::map<std::string, std::string> env,
                     std::chrono::seconds timeout = std::chrono::seconds(300));

// What a terminal finally shows: each line's text after its last carriage return, without the
// erase-line sequence that may open it; empty lines left out.
std::vector<std::string> visible_lines(const std::string& output);

}  // namespace rig
