// cmbench: train, sample and evaluate consistency models (DESIGN.md, "The command-line program").
#include "app/command_line.h"

int main(int argc, char** argv) { return cmbench::cli::run_command_line(argc, argv); }
