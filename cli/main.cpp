#include "cmd/app.h"

int main(int argc, char** argv) {
  return labctl::run_app(argc, argv);
}
