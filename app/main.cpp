#include "cli.hpp"

int main(int argc, char** argv) { return m2m::app::run(argc, argv); }
